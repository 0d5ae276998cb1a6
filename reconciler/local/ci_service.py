"""Requests to Cloud Infinite's own service hosts, recognised and routed apart from COS's.

CI's APIs other than processing live on ``<bucket>.ci.<region>.myqcloud.com`` (queues, templates, batch jobs,
auditing, AI and ASR jobs), ``<appid>.ci.<region>.myqcloud.com`` and ``ci.<region>.myqcloud.com`` (bucket
bindings such as ``/picbucket``); cos-python-sdk-v5 signs them as it signs COS requests, so the signature check is
the same. A request to such a host never reaches a COS operation: it goes to ``HANDLERS`` (method, path) —
the CI APIs this server implements — and anything else is ``501 NotImplemented`` naming the API, so a correctly
signed request is never told its signature is wrong nor served by a COS operation of the same path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.local.context import ServerState
from reconciler.local.protocol import CosError, Request, Response

_CI_HOST = re.compile(r"^(?:(?P<owner>[a-z0-9][a-z0-9-]{0,62})\.)?ci\.(?P<region>[a-z0-9-]{1,40})\."
                      r"(?:myqcloud\.com|tencentcos\.cn)$")


@dataclass(frozen=True)
class CiHost:
    """A CI service host: its owner (a bucket ``name-appid``, an appid, or "" for ``ci.<region>``) and region."""

    owner: str
    region: str

    @property
    def bucket(self) -> str | None:
        """The bucket the host names, or None (an appid, or no owner)."""
        return self.owner if "-" in self.owner else None


def parse_ci_host(hostname: str) -> CiHost | None:
    """The CI service host ``hostname`` names (lower-case, without port), or None for any other host."""
    match = _CI_HOST.match(hostname)
    return CiHost(match["owner"] or "", match["region"]) if match else None


CiHandler = Callable[[ServerState, Request], Response]
# (method, path) -> the handler of a CI API the local server implements; the batch-job work registers its own.
HANDLERS: dict[tuple[str, str], CiHandler] = {}


def handle(state: ServerState, req: Request) -> Response:
    """Serve a request to a CI service host: its registered handler, else 501 NotImplemented."""
    path = "/" + req.key
    handler = HANDLERS.get((req.method, path))
    if handler is None:
        raise CosError("NotImplemented", f"Cloud Infinite's {req.method} {path} (on {req.host}) is not implemented by "
                       "the local server; nothing was changed.")  # a complete body: the SDK reads its code
    return handler(state, req)
