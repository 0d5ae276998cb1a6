"""``apply --canary N``: the first N calls made, their outputs checked as they stand, before the rest is risked.

An output of a canary call stands when a HEAD finds it, with a size above zero and, when its rule declares a
format (``format/webp``, the last one wins), the content type of that format; a rule that declares none must
yield an ``image/*`` type. An output the call failed to make is reported with the call's error. The caller shows
the rows and decides (``ApplyOptions.on_canary``). HEADs go through ``Storage``; nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler.declare.warnings import output_format
from reconciler.errors import StorageError
from reconciler.model import Call
from reconciler.storage import Storage

CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "apng": "image/png",
                 "bmp": "image/bmp", "webp": "image/webp", "tiff": "image/tiff", "gif": "image/gif",
                 "avif": "image/avif", "heif": "image/heif", "heic": "image/heif", "tpg": "image/tpg"}


class Failure(Protocol):
    """What the canary reads of a report's failure rows (``contract.Failure``)."""

    @property
    def bucket(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


@dataclass(frozen=True)
class CanaryOutput:
    """One output of a canary call, as it stands: ``problem`` is "" when it stands as declared."""

    set: str
    address: str
    bucket: str
    key: str
    source: str
    size: int = 0
    content_type: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class CanaryResult:
    """The canary's outputs and how many calls are left after it."""

    outputs: tuple[CanaryOutput, ...]
    calls: int
    remaining: int

    @property
    def failed(self) -> int:
        return sum(not o.ok for o in self.outputs)


def expected_type(rule: str) -> str | None:
    """The content type the rule's declared format gives (None: the rule declares no format)."""
    fmt = output_format(rule)
    return None if fmt is None else CONTENT_TYPES.get(fmt, f"image/{fmt}")


def judge(set_name: str, call: Call, storage: Storage, failed: Mapping[tuple[str, str], Failure]) -> list[CanaryOutput]:
    """The rows of one canary call's outputs (``failed``: the run's failures by (bucket, key))."""
    rows = []
    for op in call.rules:
        row = CanaryOutput(set_name, op.address, op.bucket, op.key, call.key)
        failure = failed.get((op.bucket, op.key))
        if failure is not None:
            rows.append(_with(row, problem=f"not made: {failure.code} {failure.message}".strip()))
            continue
        try:
            info = storage.head_object(op.bucket, op.key)
        except StorageError as error:
            rows.append(_with(row, problem=f"HEAD failed: {error.code or error.detail}"))
            continue
        if info is None:
            rows.append(_with(row, problem="not there"))
            continue
        ctype = info.content_type.split(";")[0].strip().lower()
        want = expected_type(op.rule)
        problem = ("empty (0 bytes)" if info.size <= 0
                   else f"content type {ctype or '(none)'}, the rule declares {want}" if want and ctype != want
                   else f"content type {ctype or '(none)'} is not an image" if not want and not ctype.startswith("image/")
                   else "")
        rows.append(_with(row, size=info.size, content_type=ctype, problem=problem))
    return rows


def _with(row: CanaryOutput, **changes: object) -> CanaryOutput:
    return CanaryOutput(**{**row.__dict__, **changes})  # type: ignore[arg-type]


def check_canary(calls: Iterable[tuple[str, str, Call]], storage_for: Callable[[str], Storage],
                 failures: Iterable[Failure], remaining: int) -> CanaryResult:
    """Check every output of ``calls`` ((set, region, call) each)."""
    failed = {(f.bucket, f.key): f for f in failures}
    rows: list[CanaryOutput] = []
    n = 0
    for set_name, region, call in calls:
        rows.extend(judge(set_name, call, storage_for(region), failed))
        n += 1
    return CanaryResult(tuple(rows), n, remaining)
