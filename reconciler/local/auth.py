"""COS request signature verification (q-sign-algorithm=sha1), header and pre-signed query forms.

Mirrors what cos-python-sdk-v5's ``CosS3Auth`` computes: the HttpString is the lower-case method, the DECODED
path, the signed parameters and the signed headers (names lower-cased, names and values percent-encoded with
safe ``-_.~``, sorted); the key is HMAC-SHA1(secret key, KeyTime). Values are taken as received and re-encoded.
Pure apart from reading the clock through the ``now`` argument.

Binding (stricter than a signature check alone; issue 15): a signature in the Authorization header must cover
``host`` (a pre-signed URL need not: COS accepts ``SignHost=False`` URLs, host signing being recommended, not
required — issue 24; a single ``Host`` is still enforced, so the bucket is the one the request names); every query
parameter that can change what a request does (everything but the signature fields and the security token:
sub-resources, processing rules, ``response-*``, listing parameters) must be in ``q-url-param-list``; every
``x-cos-*`` / ``x-ci-*`` header and ``Pic-Operations`` must be in ``q-header-list``. So a pre-signed URL can
only be used for the one request it was signed for. Headers that can be signed occur at most once
(``request_headers``), so the bucket read from ``Host`` is the host that was signed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

AUTH_FIELDS = ("q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list",
               "q-signature")
MAX_SKEW_SECONDS = 900
TOKEN_NAMES = ("x-cos-security-token", "x-ci-security-token")  # checked against the credentials instead
# The headers cos-python-sdk-v5 signs (qcloud_cos/cos_auth.py ``filter_headers``), plus x-cos-* and x-ci-*.
SIGNABLE_HEADERS = frozenset({
    "cache-control", "content-disposition", "content-encoding", "content-type", "content-md5", "content-length",
    "expect", "expires", "host", "if-match", "if-modified-since", "if-none-match", "if-unmodified-since",
    "origin", "range", "transfer-encoding", "pic-operations"})
_SIGNATURE = re.compile(r"[0-9a-fA-F]{40}")
_WINDOW = re.compile(r"([0-9]{1,12});([0-9]{1,12})")  # ASCII digits only: int() would take '²' or '١'


class AuthFailure(Exception):
    """Why a request is refused: a COS error code (403 for auth codes, 400 for InvalidArgument) and a message."""

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
    return quote(text.encode("utf-8", "surrogatepass"), safe="-_.~")


def header_bytes_text(value: str) -> str:
    """Header values arrive decoded as latin-1; recover the UTF-8 text the client signed."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _single_valued(name: str) -> bool:
    return name in SIGNABLE_HEADERS or name == "authorization" or name.startswith(("x-cos-", "x-ci-"))


def request_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The request's headers by lower-case name. A header that is signed or read by the server (Host,
    Authorization, Content-Length, Pic-Operations, x-cos-*, ...) may occur only once: with two Host headers one
    part of a server reads one and another part the other (InvalidArgument, 400)."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        lower = name.lower()
        if lower in headers and _single_valued(lower):
            raise AuthFailure("InvalidArgument", f"The header {_enc(lower)!r} occurs more than once.")
        headers[lower] = value
    return headers


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
    return f"sha1\n{key_time}\n{hashlib.sha1(http_string.encode('utf-8', 'surrogatepass')).hexdigest()}\n"


def sign(secret_key: str, key_time: str, to_sign: str) -> str:
    sign_key = hmac.new(secret_key.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    return hmac.new(sign_key.encode(), to_sign.encode(), hashlib.sha1).hexdigest()


def _window(value: str) -> tuple[int, int]:
    found = _WINDOW.fullmatch(value)
    if found is None:
        raise AuthFailure("AccessDenied", "q-sign-time / q-key-time are malformed (expected <start>;<end>).")
    return int(found.group(1)), int(found.group(2))


def _fields(query: Sequence[tuple[str, str]], headers: Mapping[str, str]) -> dict[str, str]:
    if "authorization" in headers and headers["authorization"].strip():
        fields = parse_authorization(headers["authorization"])
    else:
        fields = {k.lower(): v for k, v in query if k.lower() in AUTH_FIELDS}
    if "q-signature" not in fields:
        raise AuthFailure("AccessDenied", "Access Denied: the request carries no signature.")
    if not _SIGNATURE.fullmatch(fields["q-signature"]):
        raise AuthFailure("SignatureDoesNotMatch", "q-signature is not 40 hexadecimal digits.")
    if fields.get("q-sign-algorithm", "").lower() != "sha1":
        raise AuthFailure("AccessDenied", "Only q-sign-algorithm=sha1 is supported.")
    return fields


def _received_params(query: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Encoded, lower-cased name -> encoded value; a name given twice is refused (which one was signed?)."""
    received: dict[str, str] = {}
    for name, value in query:
        encoded = _enc(name).lower()
        if encoded in received:
            raise AuthFailure("InvalidArgument", f"The query parameter {encoded!r} occurs more than once.")
        received[encoded] = _enc(value)
    return received


def _signed_names(field: str) -> list[str]:
    return [name for name in field.split(";") if name]


def _check_binding(header_list: list[str], param_list: list[str], received_params: Mapping[str, str],
                   headers: Mapping[str, str], presigned: bool) -> None:
    """Refuse a signature that leaves a query parameter or an action-changing header unsigned, or host (unless
    pre-signed: COS accepts pre-signed URLs made without the host)."""
    signed_headers = {name.lower() for name in header_list}
    if "host" not in signed_headers and not presigned:
        raise AuthFailure("AccessDenied", "The signature must cover the host header (q-header-list).")
    signed_params = {name.lower() for name in param_list}
    exempt = set(AUTH_FIELDS) | set(TOKEN_NAMES)
    for name in sorted(received_params):
        if name not in signed_params and name not in exempt:
            raise AuthFailure("AccessDenied", f"The query parameter {name!r} is not signed (q-url-param-list).")
    for name in sorted(headers):
        action = name == "pic-operations" or name.startswith(("x-cos-", "x-ci-"))
        if action and name not in TOKEN_NAMES and _enc(name).lower() not in signed_headers:
            raise AuthFailure("AccessDenied", f"The header {_enc(name)!r} is not signed (q-header-list).")


def verify(creds: Credentials, method: str, path: str, query: Sequence[tuple[str, str]],
           headers: Mapping[str, str], now: float) -> None:
    """Raise AuthFailure unless the request carries a valid signature bound to what it asks for. ``path`` is
    decoded, with leading ``/``; ``query`` is decoded (name, value) pairs; ``headers`` maps lower-case names to
    received values (from ``request_headers``)."""
    received_params = _received_params(query)
    fields = _fields(query, headers)
    if fields.get("q-ak") != creds.secret_id:
        raise AuthFailure("InvalidAccessKeyId", "The access key Id you provided does not exist in our records.")
    key_time = fields.get("q-key-time", "")
    start, end = _window(fields.get("q-sign-time", key_time))
    key_start, key_end = _window(key_time)
    if now > min(end, key_end):
        raise AuthFailure("AccessDenied", "Request has expired.")
    if max(start, key_start) > now + MAX_SKEW_SECONDS:
        raise AuthFailure("RequestTimeTooSkewed",
                          "The difference between the request time and the server's time is too large.")
    header_list = _signed_names(fields.get("q-header-list", ""))
    param_list = _signed_names(fields.get("q-url-param-list", ""))
    presigned = not headers.get("authorization", "").strip()
    _check_binding(header_list, param_list, received_params, headers, presigned)
    received_headers = {_enc(k).lower(): _enc(header_bytes_text(v)) for k, v in headers.items()}
    params = {name: received_params.get(name.lower(), "") for name in param_list}
    signed_headers: dict[str, str] = {}
    for name in header_list:
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
