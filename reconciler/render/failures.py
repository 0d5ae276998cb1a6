"""``apply --failures-out FILE``: every output a run failed to make, one JSON object a line (JSON Lines), for
follow-up: ``{"set", "address", "bucket", "key", "source", "error", "message", "request_id"}`` where ``error`` is
the error class (COS's or CI's error code, ``NotMade`` when the call succeeded and the output is not there,
``Stopped`` when the run stopped before the call ended). Exact JSON: keys are not escaped."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from reconciler.apply.contract import Failure


def failure_lines(failures: Iterable[Failure]) -> Iterator[str]:
    """One line (with its newline) per failed output."""
    for f in failures:
        yield json.dumps({"set": f.set, "address": f.address, "bucket": f.bucket, "key": f.key, "source": f.source,
                          "error": f.code, "message": f.message, "request_id": f.request_id},
                         ensure_ascii=False, separators=(",", ":")) + "\n"
