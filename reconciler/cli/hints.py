"""The next step for an error that reaches a user: each names its cause, then what to do about it.

``next_steps`` reads a ``StorageError``'s code (never its wording): a refused connection names the endpoint and how
to start the local server; a refused signature or key names the credential variables; a missing bucket says how to
make one on the local server (``declare.located`` adds the ``bucket:`` lines naming it, file:line:col).
"""

from __future__ import annotations

import re

from reconciler.errors import CosreconError, StorageError
from reconciler.credentials import ENV_SECRET_ID, ENV_SECRET_KEY, ENV_TOKEN

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
