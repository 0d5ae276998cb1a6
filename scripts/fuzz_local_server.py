"""Fuzz the local server over HTTP for longer than the test suite does (issue 15): the strategies of
tests/local/fuzz_http.py, N examples against a fresh in-process server, stderr watched for tracebacks.

    .venv/bin/python scripts/fuzz_local_server.py [--examples 5000] [--seed 1]

Prints the status counts and every request that got a 5xx or produced a traceback; exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.local import LocalServer  # noqa: E402
from tests.local.conftest import jpeg, make_client  # noqa: E402
from tests.local.fuzz_http import BUCKET, SOURCE, acceptable, exchange, requests_  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    codes: collections.Counter[int] = collections.Counter()
    bad: list[tuple[int, bytes]] = []
    errors = io.StringIO()
    with tempfile.TemporaryDirectory() as root, LocalServer(root, buckets=[BUCKET], ci_qps=0) as srv:
        make_client(srv).put_object(Bucket=BUCKET, Key=SOURCE, Body=jpeg(48, 32))

        @seed(args.seed)
        @settings(max_examples=args.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(st.data())
        def run(data: st.DataObject) -> None:
            request = data.draw(requests_(srv))
            try:
                status = exchange(srv, request)
            except AssertionError:  # an error body that is not XML
                status = -1
            codes[status] += 1
            if status == -1 or not acceptable(status):
                bad.append((status, request[:400]))

        start = time.monotonic()
        with contextlib.redirect_stderr(errors):
            run()
        elapsed = time.monotonic() - start
        internal = srv.stats().get("error:InternalError", 0)
    total = sum(codes.values())
    print(f"{total} requests in {elapsed:.1f} s; statuses: {dict(sorted(codes.items()))}; "
          f"InternalError replies: {internal}; tracebacks on stderr: {errors.getvalue().count('Traceback')}")
    for status, request in bad[:20]:
        print(status, request)
    return 1 if bad or internal or "Traceback" in errors.getvalue() else 0


if __name__ == "__main__":
    raise SystemExit(main())
