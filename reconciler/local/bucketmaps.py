"""Per-bucket settings the local server keeps as one JSON object of strings under its root (image styles, inventory
configurations): read whole, written whole (temporary file, then rename). Callers hold their own lock around a
read-modify-write; this module takes none."""

from __future__ import annotations

import json
import os
from pathlib import Path


def map_path(root: Path, folder: str, bucket: str) -> Path:
    return root / folder / f"{bucket}.json"


def read_map(path: Path) -> dict[str, str]:
    """The stored object ({} when there is none yet)."""
    if not path.exists():
        return {}
    loaded = json.loads(path.read_text("utf-8"))
    return {str(k): str(v) for k, v in loaded.items()}


def write_map(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, ensure_ascii=False, sort_keys=True), "utf-8")
    os.replace(tmp, path)
