"""The next step for an error that reaches a user: each names its cause, then what to do about it.

``next_steps`` reads a ``StorageError``'s code (never its wording): a refused connection names the endpoint and how
to start the local server; a refused signature or key names the credential variables; a missing bucket says how to
make one on the local server. ``bucket_lines`` (used by ``located_buckets``) points a missing bucket at the
``bucket:`` lines of the declarations that name it (``file:line:col``), so the user edits the right line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from reconciler.declare.load import load_file
from reconciler.errors import CosreconError, StorageError
from reconciler.model import Declaration
from reconciler.apply.credentials import ENV_SECRET_ID, ENV_SECRET_KEY, ENV_TOKEN

CREDENTIAL_CODES = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidSecretId", "InvalidSecurityToken",
                    "ExpiredToken", "RequestTimeTooSkewed")
_HOST = re.compile(r"(?:cannot connect to|no reply from|connection to) (\S+?:\d+)")


def _local(host: str) -> bool:
    return host.startswith(("127.", "localhost", "0.0.0.0", "[::1]", "::1"))


def _connection(error: StorageError) -> list[str]:
    found = _HOST.search(error.detail)
    host = found.group(1) if found else ""
    if host and _local(host):
        port = host.rsplit(":", 1)[1]
        return [f"Nothing answers at {host}: is the local server running? Start it in another terminal with "
                f"`cosrecon local serve --port {port}` (it prints the endpoint and keys to use), or use --local "
                "for the embedded one; the endpoint comes from --endpoint or COSRECON_ENDPOINT."]
    where = f" {host}" if host else ""
    return [f"The COS endpoint{where} could not be reached: check the network (proxy, firewall) and the set's "
            "region; a custom endpoint comes from --endpoint or COSRECON_ENDPOINT."]


def next_steps(error: CosreconError) -> list[str]:
    """What to do about ``error`` (empty when its message already says it)."""
    if not isinstance(error, StorageError):
        return []
    if error.code == "ConnectionError" and "No Parameter" not in error.detail:
        return _connection(error)
    if error.code in CREDENTIAL_CODES:
        return [f"The credentials were refused ({error.code}): check {ENV_SECRET_ID} and {ENV_SECRET_KEY} (and "
                f"{ENV_TOKEN} for a temporary key) — for a local server, the SecretId and SecretKey "
                "`cosrecon local serve` printed; a clock far off also makes signatures fail."]
    if error.code == "AccessDenied":
        return [f"The key in {ENV_SECRET_ID} may not do this on bucket {error.bucket or '(unknown)'}: grant it the "
                "permission (a CAM policy on the bucket), or use another key."]
    if error.code == "NoSuchBucket":
        bucket = error.bucket or "the bucket"
        return [f"Bucket {bucket} does not exist (in that region, for that account): check the declaration's "
                f"`bucket:` line; on a local server, `cosrecon local bucket create {bucket}` makes it."]
    return []


def bucket_lines(decls: Sequence[Declaration], bucket: str) -> list[str]:
    """``file:line:col: <field>: <bucket>`` for each place the declarations name ``bucket``."""
    found = []
    for decl in decls:
        places: list[tuple[str | int, ...]] = []
        if decl.bucket == bucket:
            places.append(("bucket",))
        if decl.state.bucket == bucket and decl.state.bucket != decl.bucket:
            places.append(("state", "bucket"))
        places += [("pipelines", p.name, "outputs", o.name, "bucket") for p in decl.pipelines for o in p.outputs
                   if o.bucket == bucket]
        if not places or not decl.path:
            continue
        _, _, document = load_file(decl.path)
        for place in places:
            line, col = document.locate(place) if document is not None else (1, 1)
            found.append(f"{decl.path}:{line}:{col}: {'.'.join(map(str, place))}: {bucket}")
    return found


@contextmanager
def located_buckets(decls: Sequence[Declaration]) -> Iterator[None]:
    """Add to a ``NoSuchBucket`` error raised inside the ``bucket:`` lines of ``decls`` that name that bucket."""
    try:
        yield
    except StorageError as error:
        if error.code != "NoSuchBucket" or not error.bucket:
            raise
        lines = bucket_lines(decls, error.bucket)
        if lines:
            error.details = (*error.details, *(f"declared at {line}" for line in lines))
        raise
