"""COS request signature verification (q-sign-algorithm=sha1), header and pre-signed query forms.

Mirrors what cos-python-sdk-v5's ``CosS3Auth`` computes: the HttpString is the lower-case method, the DECODED
path, the signed parameters and the signed headers (names lower-cased, names and values percent-encoded with
safe ``-_.~``, sorted); the key is HMAC-SHA1(secret key, KeyTime). Values are taken as received and re-encoded.
Pure apart from reading the clock through the ``now`` argument.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

AUTH_FIELDS = ("q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list",
               "q-signature")
MAX_SKEW_SECONDS = 900


class AuthFailure(Exception):
    """Why a request is refused: a COS error code and a message (always 403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Credentials:
    """The one credential pair (and optional token) a server accepts."""

    secret_id: str
    secret_key: str
    token: str | None = None


def _enc(text: str) -> str:
    return quote(text.encode("utf-8", "surrogateescape"), safe="-_.~")


def header_bytes_text(value: str) -> str:
    """Header values arrive decoded as latin-1; recover the UTF-8 text the client signed."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def parse_authorization(value: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in value.split("&"):
        name, _, val = part.partition("=")
        fields[name.strip().lower()] = val.strip()
    return fields


def string_to_sign(method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str],
                   key_time: str) -> str:
    """The StringToSign for already-encoded, lower-cased params and headers."""
    http_string = "\n".join([
        method.lower(), path,
        "&".join(f"{k}={v}" for k, v in sorted(params.items())),
        "&".join(f"{k}={v}" for k, v in sorted(headers.items())),
    ]) + "\n"
    return f"sha1\n{key_time}\n{hashlib.sha1(http_string.encode('utf-8', 'surrogateescape')).hexdigest()}\n"


def sign(secret_key: str, key_time: str, to_sign: str) -> str:
    sign_key = hmac.new(secret_key.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    return hmac.new(sign_key.encode(), to_sign.encode(), hashlib.sha1).hexdigest()


def _window(value: str) -> tuple[int, int]:
    start, _, end = value.partition(";")
    return int(start), int(end)


def verify(creds: Credentials, method: str, path: str, query: Sequence[tuple[str, str]],
           headers: Mapping[str, str], now: float) -> None:
    """Raise AuthFailure unless the request carries a valid signature. ``path`` is decoded, with leading
    ``/``; ``query`` is decoded (name, value) pairs; ``headers`` maps lower-case names to received values."""
    fields: dict[str, str] = {}
    if "authorization" in headers and headers["authorization"].strip():
        fields = parse_authorization(headers["authorization"])
    else:
        fields = {k.lower(): v for k, v in query if k.lower() in AUTH_FIELDS}
    if "q-signature" not in fields:
        raise AuthFailure("AccessDenied", "Access Denied: the request carries no signature.")
    if fields.get("q-sign-algorithm", "").lower() != "sha1":
        raise AuthFailure("AccessDenied", "Only q-sign-algorithm=sha1 is supported.")
    if fields.get("q-ak") != creds.secret_id:
        raise AuthFailure("InvalidAccessKeyId", "The access key Id you provided does not exist in our records.")
    key_time = fields.get("q-key-time", "")
    try:
        start, end = _window(fields.get("q-sign-time", key_time))
        key_start, key_end = _window(key_time)
    except ValueError:
        raise AuthFailure("AccessDenied", "q-sign-time / q-key-time are malformed.") from None
    if now > min(end, key_end):
        raise AuthFailure("AccessDenied", "Request has expired.")
    if max(start, key_start) > now + MAX_SKEW_SECONDS:
        raise AuthFailure("RequestTimeTooSkewed",
                          "The difference between the request time and the server's time is too large.")
    received_params: dict[str, str] = {}
    for name, value in query:
        if name.lower() not in AUTH_FIELDS:
            received_params[_enc(name).lower()] = _enc(value)
    received_headers = {_enc(k).lower(): _enc(header_bytes_text(v)) for k, v in headers.items()}
    params: dict[str, str] = {}
    signed_headers: dict[str, str] = {}
    for name in filter(None, fields.get("q-url-param-list", "").split(";")):
        params[name] = received_params.get(name.lower(), "")
    for name in filter(None, fields.get("q-header-list", "").split(";")):
        if name.lower() not in received_headers:
            raise AuthFailure("SignatureDoesNotMatch", f"The signed header {name!r} is missing from the request.")
        signed_headers[name] = received_headers[name.lower()]
    to_sign = string_to_sign(method, path, params, signed_headers, key_time)
    if not hmac.compare_digest(sign(creds.secret_key, key_time, to_sign), fields["q-signature"].lower()):
        raise AuthFailure("SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided.")
    if creds.token is not None:
        sent = headers.get("x-cos-security-token") or headers.get("x-ci-security-token") or dict(
            (k.lower(), v) for k, v in query).get("x-cos-security-token")
        if sent != creds.token:
            raise AuthFailure("AccessDenied", "The security token is missing or does not match.")
