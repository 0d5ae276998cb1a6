"""What every route of the local server shares: the store and its multipart uploads, the credentials, the CI rate limit and faults, the
request counters. The server builds one; the HTTP handler hands it to ``routing.handle`` with each request."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.local.admission import ProcessingGate, ProcessingLimits
from reconciler.local.auth import Credentials
from reconciler.local.bucket_ci import CiSettings
from reconciler.local.faults import Faults, Stats
from reconciler.local.store import LocalStore
from reconciler.local.uploads import Uploads


@dataclass(frozen=True)
class ServerState:
    """The shared parts of one running server (each is itself thread-safe)."""

    store: LocalStore
    credentials: Credentials
    faults: Faults
    stats: Stats
    uploads: Uploads
    gate: ProcessingGate = field(default_factory=lambda: ProcessingGate(ProcessingLimits()))
    ci: CiSettings = field(default_factory=CiSettings)  # per-bucket advanced compression and style separators
