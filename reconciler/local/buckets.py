"""The COS bucket operations of the local server: create, head, delete, list objects, multi-delete, and the
service-level list of buckets. Each returns a ``protocol.Response`` or raises ``protocol.CosError``."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

from reconciler.local import replies
from reconciler.local.connection import MAX_DELETE_BODY, read_bounded
from reconciler.local.context import ServerState
from reconciler.local.operations import md5_header
from reconciler.local.protocol import MAX_KEY_BYTES, CosError, Request, Response, ascii_number
from reconciler.local.store import BucketMissing, BucketNotEmpty


def list_buckets(state: ServerState, req: Request) -> Response:
    return Response(200, {}, replies.buckets(state.store.list_buckets(), req.region))


def require_bucket(state: ServerState, req: Request) -> str:
    """The request's bucket; NoSuchBucket unless it exists."""
    assert req.bucket is not None
    if not state.store.bucket_exists(req.bucket):
        raise CosError("NoSuchBucket", "The specified bucket does not exist.")
    return req.bucket


def put_bucket(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    if not state.store.create_bucket(req.bucket):  # every bucket here is the caller's own
        raise CosError("BucketAlreadyOwnedByYou", "The bucket already exists and you own it.")
    return Response(200)


def head_bucket(state: ServerState, req: Request) -> Response:
    require_bucket(state, req)
    return Response(200)


def delete_bucket(state: ServerState, req: Request) -> Response:
    try:
        state.store.delete_bucket(require_bucket(state, req))
    except BucketMissing:
        raise CosError("NoSuchBucket", "The specified bucket does not exist.") from None
    except BucketNotEmpty:
        raise CosError("BucketNotEmpty", "The bucket you tried to delete is not empty.") from None
    return Response(204)


def list_objects(state: ServerState, req: Request) -> Response:
    bucket = require_bucket(state, req)
    p = req.params
    if p.get("encoding-type", "url") != "url":
        raise CosError("InvalidArgument", "encoding-type may only be 'url'.")
    number = ascii_number(p.get("max-keys", "1000"))
    if number is None:
        raise CosError("InvalidArgument", "max-keys must be a non-negative integer of ASCII digits.")
    max_keys = min(number, 1000)
    prefix, delimiter, marker = p.get("prefix", ""), p.get("delimiter", ""), p.get("marker", "")
    page = state.store.list_page(bucket, prefix, delimiter, marker, max_keys)
    body = replies.listing(bucket, page, prefix=prefix, marker=marker, delimiter=delimiter, max_keys=max_keys,
                           url_encoding=p.get("encoding-type", "") == "url")
    return Response(200, {}, body)


def delete_objects(state: ServerState, req: Request) -> Response:
    bucket = require_bucket(state, req)
    expected = md5_header(req)
    body = read_bounded(req.body, MAX_DELETE_BODY, "POST ?delete")
    if expected is not None and hashlib.md5(body).hexdigest() != expected:
        raise CosError("BadDigest", "The Content-MD5 you specified did not match what we received.")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise CosError("MalformedXML", "The XML you provided was not well-formed.") from None
    keys = [el.findtext("Key") or "" for el in root.iter("Object")]
    if not keys or len(keys) > 1000:
        raise CosError("MalformedXML", "A multi-delete names 1 to 1000 objects.")
    quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
    deleted, failed = [], []
    for key in keys:
        if not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            failed.append((key, "InvalidArgument", "invalid key"))
            continue
        state.store.delete(bucket, key)
        deleted.append(key)
    return Response(200, {}, replies.delete_result(deleted, failed, quiet))
