"""The embedded COS + Cloud Infinite compatible server (``cosrecon local``): what Azurite is to Azure Storage.

``LocalServer`` serves the COS XML API as cos-python-sdk-v5 uses it plus CI persistent processing, over a
durable store under a root directory; ``import_tree`` and ``LocalStore.put_many`` seed it without HTTP.
"""

from __future__ import annotations

from reconciler.local.seeding import import_tree
from reconciler.local.server import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, LocalServer
from reconciler.local.store import LocalStore

__all__ = ["DEFAULT_SECRET_ID", "DEFAULT_SECRET_KEY", "LocalServer", "LocalStore", "import_tree"]
