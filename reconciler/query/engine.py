"""The DuckDB connection the queries run on, under a memory limit, and columns in and out as Arrow.

``Engine(memory_limit, temp_directory)``: an in-memory database whose hash joins and sorts spill to
``temp_directory`` past ``memory_limit`` (DuckDB's ``SET memory_limit`` / ``SET temp_directory``). Python columns
become tables through Arrow (``load``: registered, not copied again); results come back as Python lists per
column (``columns``) or as rows (``rows``). The default limit is a quarter of the machine's memory
(``default_memory_limit``), at least 256 MiB.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

MIB = 1 << 20
MIN_MEMORY = 256 * MIB

# a column to load: ("str", values), ("int", values) or ("flag", a byte per row, 0 or 1)
Column = tuple[str, Sequence[Any] | bytes | bytearray]


def default_memory_limit() -> int:
    """A safe share of the machine for the engine: a quarter of physical memory, at least 256 MiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1024 * MIB
    return max(MIN_MEMORY, total // 4)


def parse_memory(text: str) -> int:
    """Bytes from ``512MB``, ``2GiB``, ``1.5G`` or a plain number of bytes; ValueError otherwise."""
    units = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": MIB, "MB": MIB, "MIB": MIB,
             "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40}
    raw = text.strip().upper().replace(" ", "")
    number = raw.rstrip("KMGTIB")
    unit = raw[len(number):]
    if unit not in units:
        raise ValueError(f"{text!r}: expected a size such as 512MB or 2GiB")
    value = int(float(number) * units[unit])
    if value < 64 * MIB:
        raise ValueError(f"{text!r}: the engine needs at least 64MB")
    return value


def _array(kind: str, values: Sequence[Any] | bytes | bytearray) -> pa.Array:
    if kind == "str":
        return pa.array(values, pa.string())
    if kind == "int":
        return pa.array(values, pa.int64())
    if kind == "flag":
        data = bytes(values) if not isinstance(values, bytes) else values
        return pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)]).cast(pa.bool_())
    raise ValueError(f"unknown column kind {kind!r}")


class Engine:
    """One DuckDB connection; ``close`` (or ``with``) frees it and its spill files."""

    def __init__(self, memory_limit: int | None = None, temp_directory: str | None = None,
                 threads: int | None = None) -> None:
        self.memory_limit = memory_limit or default_memory_limit()
        self.db = duckdb.connect(":memory:")
        self.run(f"SET memory_limit = '{self.memory_limit // MIB}MiB'")
        if temp_directory:
            self.run(f"SET temp_directory = '{temp_directory.replace(chr(39), chr(39) * 2)}'")
        if threads:
            self.run(f"SET threads = {int(threads)}")
        self.run("SET preserve_insertion_order = false")
        self._held: dict[str, pa.Table] = {}

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._held.clear()
        self.db.close()

    def load(self, name: str, columns: Mapping[str, Column]) -> None:
        """Make the table ``name`` of ``columns`` (equal lengths), replacing one of that name."""
        table = pa.table({column: _array(kind, values) for column, (kind, values) in columns.items()})
        if name in self._held:
            self.db.unregister(name)
        self._held[name] = table
        self.db.register(name, table)

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement (e.g. ``CREATE TEMP TABLE ... AS``)."""
        self.db.execute(sql, list(params)).fetchall()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        result: list[tuple[Any, ...]] = self.db.execute(sql, list(params)).fetchall()
        return result

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.db.execute(sql, list(params)).fetchall()
        return rows[0][0] if rows else None

    def columns(self, sql: str) -> dict[str, list[Any]]:
        """The result of ``sql`` as a list per column (through Arrow: no row tuples made)."""
        table = self.db.sql(sql).to_arrow_table()
        return {name: table.column(name).to_pylist() for name in table.column_names}
