"""Sources that are about to be uploaded (``cosrecon upload``), planned as if they already stood in their bucket.

``ExtraSources`` is laid over what a set's observation listed: each key a set's globs select is added to its
sources with the ETag its upload will have (the file's MD5, which is what COS gives a simple PUT), so the planner
makes exactly the calls ``apply`` would make once the files stand. A key that stands already with other content is
left as it stands (and noted in ``refused``) unless ``overwrite``; ``standing`` notes what the listing showed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reconciler.declare.globs import Selector
from reconciler.model import Declaration
from reconciler.plan.planner import never_under


def selector(decl: Declaration) -> Callable[[str], bool]:
    """Whether the globs of a pipeline of ``decl`` select a key of its source bucket as a source (built once)."""
    skip = never_under(decl)
    matchers = [Selector(p.source.include, p.source.exclude, skip).matches for p in decl.pipelines]
    return lambda key: not (skip and key.startswith(skip)) and any(m(key) for m in matchers)


def selects(decl: Declaration, key: str) -> bool:
    """``selector(decl)(key)``, for one key."""
    return selector(decl)(key)


@dataclass
class ExtraSources:
    """Keys of ``bucket`` with the ETags their uploads will have; filled in by ``overlay`` as sets are observed."""

    bucket: str
    etags: Mapping[str, str]
    overwrite: bool = False
    standing: dict[str, str] = field(default_factory=dict)  # key -> ETag a listing showed before the upload
    refused: set[str] = field(default_factory=set)  # keys standing with other content (without ``overwrite``)

    def overlay(self, decl: Declaration, source_keys: list[str],
                existing: dict[str, dict[str, str]]) -> list[str]:
        """Lay the keys ``decl`` selects over one observation: ``existing[bucket]`` is replaced by a copy holding
        their ETags (listings are shared between sets); returns the sources with the new keys added, sorted."""
        if decl.bucket != self.bucket:
            return source_keys
        objects = dict(existing.get(self.bucket, {}))
        keys = set(source_keys)
        chosen = selector(decl)
        for key, etag in self.etags.items():
            if not chosen(key):
                continue
            now = objects.get(key)
            if now is not None:
                self.standing[key] = now
                if now != etag and not self.overwrite:
                    self.refused.add(key)
                    continue
            objects[key] = etag
            keys.add(key)
        existing[self.bucket] = objects
        return sorted(keys)
