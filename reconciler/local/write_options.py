"""What a write (PUT, copy, Initiate Multipart Upload) may ask besides its body that COS stores and echoes:
server-side encryption and the storage class. Honoured where the local server can do what COS does, refused with
501 otherwise — never silently ignored (issue 24).

- ``x-cos-server-side-encryption: AES256`` (SSE-COS) is stored and echoed on the write's reply, GET and HEAD; the
  local store does not encrypt at rest (nothing leaves the machine) — a deliberate difference. SSE-KMS and SSE-C
  (their key headers) are 501.
- ``x-cos-storage-class``: STANDARD, STANDARD_IA, INTELLIGENT_TIERING and the MAZ_ classes are stored and echoed
  (COS returns the header only for a class other than STANDARD); ARCHIVE and DEEP_ARCHIVE are 501 (reading them
  needs a restore, which is not emulated); anything else is 400 InvalidArgument. A copy takes the class the request
  names (default STANDARD), so ``change_object_storage_class`` works.
"""

from __future__ import annotations

from reconciler.local.protocol import CosError, Request

SSE_HEADER = "x-cos-server-side-encryption"
CLASS_HEADER = "x-cos-storage-class"
CLASSES = ("STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "MAZ_STANDARD", "MAZ_STANDARD_IA",
           "MAZ_INTELLIGENT_TIERING")
COLD = ("ARCHIVE", "DEEP_ARCHIVE")
_SSE_OTHER = ("x-cos-server-side-encryption-cos-kms-key-id", "x-cos-server-side-encryption-context",
              "x-cos-server-side-encryption-customer-algorithm", "x-cos-server-side-encryption-customer-key",
              "x-cos-server-side-encryption-customer-key-md5")


def write_options(req: Request) -> dict[str, str]:
    """The headers a write stores for SSE and the storage class (none for STANDARD); raises CosError for what the
    server does not do (501) or COS refuses (400)."""
    kept: dict[str, str] = {}
    other = next((h for h in _SSE_OTHER if h in req.headers), None)
    if other is not None:
        raise CosError("NotImplemented", f"{other} (SSE-KMS / SSE-C) is not implemented by the local server; "
                       "nothing was changed.")
    if SSE_HEADER in req.headers:
        value = req.headers[SSE_HEADER].strip()
        if value != "AES256":
            raise CosError("NotImplemented", f"{SSE_HEADER}: {value!r} is not implemented by the local server "
                           "(AES256 is); nothing was changed.")
        kept[SSE_HEADER] = value
    if CLASS_HEADER in req.headers:
        value = req.headers[CLASS_HEADER].strip().upper()
        if value in COLD:
            raise CosError("NotImplemented", f"{CLASS_HEADER}: {value} is not implemented by the local server "
                           "(reading it needs a restore); nothing was changed.")
        if value not in CLASSES:
            raise CosError("InvalidArgument", f"{CLASS_HEADER}: {value!r} is not a storage class.")
        if value != "STANDARD":
            kept[CLASS_HEADER] = value
    return kept


def storage_class(meta: dict[str, str]) -> str:
    """An object's storage class from what it stored."""
    return meta.get(CLASS_HEADER, "STANDARD")
