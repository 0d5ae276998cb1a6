"""The bucket inventory configuration API on the local server, as COS documents it and cos-python-sdk-v5 calls it.

- ``PUT /?inventory&id=<Id>`` (``put_bucket_inventory``), body ``<InventoryConfiguration>`` with ``Id`` (the same as
  the query's), ``IsEnabled`` (true|false), ``Destination/COSBucketDestination`` (``Format`` CSV, ``AccountId``,
  ``Bucket`` as ``qcs::cos:<region>::<bucket>``, optional ``Prefix``, ``Encryption``), ``Schedule/Frequency``
  (Daily|Weekly), ``IncludedObjectVersions`` (All|Current), optional ``Filter`` and ``OptionalFields/Field``.
  Creating under an id that exists replaces it. At most 1000 configurations per bucket.
- ``GET /?inventory&id=<Id>`` (``get_bucket_inventory``): the configuration as stored; ``GET /?inventory``
  (``list_bucket_inventory_configurations``): ``<ListInventoryConfigurationResult>`` with every configuration,
  never truncated.
- ``DELETE /?inventory&id=<Id>`` (``delete_bucket_inventory``): 204.

Pages: PUT/GET/DELETE Bucket inventory and List Bucket Inventory Configurations (COS API, 436/33707, 436/33705,
436/33704, 436/33706). Where they are silent (the error for an unknown id, for a bad field) this follows S3, whose
API COS's mirrors: 404 ``NoSuchInventoryConfiguration``, 400 ``InvalidArgument``, 400 ``MalformedXML``
(docs/local-server.md). The server keeps the configurations but never runs them on a schedule:
``cosrecon local inventory`` writes a report when asked. Stored in ``<root>/inventory/<bucket>.json``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from xml.etree import ElementTree

from reconciler.local import buckets
from reconciler.local.bucketmaps import map_path, read_map, write_map
from reconciler.local.connection import read_bounded
from reconciler.local.context import ServerState
from reconciler.local.protocol import CosError, Request, Response
from reconciler.local.replies import XML_HEAD

_LOCK = threading.Lock()
MAX_BODY = 64 * 1024
MAX_CONFIGURATIONS = 1000
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DEST_BUCKET = re.compile(r"qcs::cos:[a-z0-9-]+::[a-z0-9-]+")
_CHOICES = {"IsEnabled": ("true", "false"), "IncludedObjectVersions": ("All", "Current")}


def _path(state: ServerState, bucket: str) -> Path:
    return map_path(state.store.root, "inventory", bucket)


def configurations(state: ServerState, bucket: str) -> dict[str, str]:
    """The bucket's inventory configurations, id -> the XML stored ({} when none)."""
    path = _path(state, bucket)
    with _LOCK:
        return read_map(path)


def _save(state: ServerState, bucket: str, found: dict[str, str]) -> None:
    write_map(_path(state, bucket), found)


def _id(req: Request, required: bool = True) -> str:
    ident = req.params.get("id", "")
    if (required or ident) and not _ID.fullmatch(ident):
        raise CosError("InvalidArgument", "The id parameter must be 1-64 letters, digits, '.', '_' or '-'.")
    return ident


def _text(element: ElementTree.Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _checked(req: Request, ident: str) -> str:
    """The request's configuration, checked, as the XML to store."""
    length = req.body.length or 0
    if length > MAX_BODY:
        raise CosError("InvalidArgument", f"The InventoryConfiguration body is over {MAX_BODY} bytes.")
    body = read_bounded(req.body, MAX_BODY, "the InventoryConfiguration body")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise CosError("MalformedXML", "The InventoryConfiguration body is not well-formed XML.") from None
    if root.tag != "InventoryConfiguration":
        raise CosError("MalformedXML", "The request body's root must be <InventoryConfiguration>.")
    if _text(root, "Id") != ident:
        raise CosError("InvalidArgument", "The configuration's Id must be the id parameter.")
    for name, allowed in _CHOICES.items():
        value = _text(root, name)
        if value.lower() not in {a.lower() for a in allowed}:
            raise CosError("InvalidArgument", f"{name} must be one of {', '.join(allowed)}.")
    if _text(root, "Schedule/Frequency") not in ("Daily", "Weekly"):
        raise CosError("InvalidArgument", "Schedule/Frequency must be Daily or Weekly.")
    destination = "Destination/COSBucketDestination/"
    if _text(root, destination + "Format") != "CSV":
        raise CosError("InvalidArgument", "Destination/COSBucketDestination/Format must be CSV.")
    if not _DEST_BUCKET.fullmatch(_text(root, destination + "Bucket")):
        raise CosError("InvalidArgument", "Destination/COSBucketDestination/Bucket must be "
                                          "qcs::cos:<region>::<bucket>.")
    return ElementTree.tostring(root, encoding="unicode")


def put_inventory(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    buckets.require_bucket(state, req)
    ident = _id(req)
    stored = _checked(req, ident)
    with _LOCK:
        path = _path(state, req.bucket)
        found = read_map(path)
        if ident not in found and len(found) >= MAX_CONFIGURATIONS:
            raise CosError("TooManyConfigurations", f"A bucket holds at most {MAX_CONFIGURATIONS} inventory "
                                                    "configurations.")
        found[ident] = stored
        _save(state, req.bucket, found)
    return Response(200)


def get_inventory(state: ServerState, req: Request) -> Response:
    """One configuration (``id``), or the list of all of them (no ``id``)."""
    assert req.bucket is not None
    buckets.require_bucket(state, req)
    ident = _id(req, required=False)
    found = configurations(state, req.bucket)
    if ident:
        if ident not in found:
            raise CosError("NoSuchInventoryConfiguration", "The specified inventory configuration does not exist.")
        body = XML_HEAD + found[ident]
    else:
        body = (XML_HEAD + "<ListInventoryConfigurationResult>" + "".join(v for _, v in sorted(found.items()))
                + "<IsTruncated>false</IsTruncated></ListInventoryConfigurationResult>")
    return Response(200, {"Content-Type": "application/xml"}, body.encode())


def delete_inventory(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    buckets.require_bucket(state, req)
    ident = _id(req)
    with _LOCK:
        path = _path(state, req.bucket)
        found = read_map(path)
        if ident not in found:
            raise CosError("NoSuchInventoryConfiguration", "The specified inventory configuration does not exist.")
        del found[ident]
        _save(state, req.bucket, found)
    return Response(204)
