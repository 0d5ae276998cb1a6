"""The one error hierarchy. Library code raises these; only ``cli.errors`` turns them into messages and exit codes.

Every error carries enough to tell the user *where* (file:line, JSON path, bucket/key) and, for COS errors,
the status, COS error code and request id. Messages never contain secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CosreconError(Exception):
    """Base of every error cosrecon raises on purpose. ``exit_code`` is what the CLI exits with.

    ``details`` are lines listed under the headline (keys that collide, schema problems): kept apart so that the
    one place that prints errors can escape each (a key may hold a newline) and still show them one per line.
    ``message`` is the whole text: the headline, then each detail on its own indented line."""

    exit_code: int = 1

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        self.headline = message
        self.details = tuple(details)
        self.message = message + "".join(f"\n  {d}" for d in self.details)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One validation problem, located: ``file:line:col: json.path: message``."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"


class DeclarationError(CosreconError):
    """Declarations are invalid; ``problems`` lists every one found (validation reports all at once)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UsageError(CosreconError):
    """The command was called wrongly (bad option combination, missing path, ...)."""


class StorageError(CosreconError):
    """A COS request failed. Keeps what the user needs to act: bucket, key, status, COS code, request id."""

    def __init__(
        self,
        message: str,
        *,
        bucket: str = "",
        key: str = "",
        status: int = 0,
        code: str = "",
        request_id: str = "",
        retryable: bool = False,
    ) -> None:
        self.detail = message  # the message alone, without where/code/request id (for tables that show those)
        self.bucket = bucket
        self.key = key
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retryable = retryable
        where = f"{bucket}/{key}" if key else bucket
        parts = [f"{where}: " if where else "", message]
        if code:
            parts.append(f" ({code}")
            if status:
                parts.append(f", HTTP {status}")
            if request_id:
                parts.append(f", request id {request_id}")
            parts.append(")")
        super().__init__("".join(parts))


class NotFound(StorageError):
    """The bucket or object does not exist."""


class CollisionError(CosreconError):
    """Real keys collide (two sources -> one output, an output that is a source). No plan is shown."""


class StateError(CosreconError):
    """The ledger or a saved plan cannot be read or written, or is of an unknown format."""


class StalePlanError(CosreconError):
    """A saved plan no longer matches the declarations or the ledger it was made from."""


class LockError(CosreconError):
    """The set's lock is held by someone else (after waiting), or could not be taken or released."""


class BudgetExceeded(CosreconError):
    """The plan needs more calls or deletes than ``--max-calls`` / ``--max-delete`` allow, or costs more than
    ``--max-cost`` (or cannot be priced in full)."""


class Aborted(CosreconError):
    """The user declined the confirmation, or no terminal was there to ask."""


class ApplyFailed(CosreconError):
    """Apply finished but some calls failed; the summary lists them."""


class InventoryError(CosreconError):
    """A COS Inventory report (``--inventory``) cannot be used: not found, corrupt (a checksum or MD5 that does not
    match, a file that is not gzip CSV), of another bucket than it says or than the sets read, or without the
    columns a plan needs (Key, ETag, Size)."""
