"""The price table of the plan estimate: ``plan/prices.json`` in the package, or a user's ``--prices FILE``.

Each price names the page it was read from and when; a price nobody could read is ``null`` and the estimate says the
item is not priced. A file holds several tables (mainland, finance, other); each names its regions, and a region
named by none takes ``finance`` when it ends in ``-fsi`` and ``other`` otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reconciler.errors import UsageError

ITEMS = ("basic_processing_per_gb", "advanced_compression_per_1000", "ai_processing_per_1000",
         "cos_requests_per_10000", "storage_per_gb_month")


@dataclass(frozen=True)
class Price:
    """One billing item's list price (None: not priced) and where it came from."""

    item: str
    price: float | None
    page: str
    read: str


@dataclass(frozen=True)
class PriceTable:
    """The prices that apply to some regions, and the estimate's stated assumptions."""

    table: str  # the table's name in the file: mainland, finance, other
    regions: tuple[str, ...]
    currency: str
    ci_rate_limit: int  # persistent processing requests per second per account
    prices: dict[str, Price]
    seconds_per_call: dict[str, float]  # "basic" / "ai"
    output_size_ratio: float
    source: str  # where the table was read from


@dataclass(frozen=True)
class PriceBook:
    """A whole price file, checked when loaded."""

    tables: tuple[PriceTable, ...]

    def for_region(self, region: str) -> PriceTable:
        named = {t.table: t for t in self.tables}
        for table in self.tables:
            if region in table.regions:
                return table
        fallback = "finance" if region.endswith("-fsi") and "finance" in named else "other"
        if fallback not in named:
            raise UsageError(f"{self.tables[0].source}: no price table for region {region!r} (and no \"other\")")
        return named[fallback]


def builtin_path() -> str:
    """Where the built-in price table is installed (to copy and edit)."""
    return str(resources.files("reconciler.plan").joinpath("prices.json"))


def _document(path: Path | None) -> tuple[Any, str]:
    if path is None:
        text = resources.files("reconciler.plan").joinpath("prices.json").read_text(encoding="utf-8")
        return json.loads(text), "built-in price table"
    try:
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    except FileNotFoundError:
        raise UsageError(f"--prices {path}: no such file; to make your own table, copy the built-in one "
                         f"({builtin_path()}) and fill in the prices it lacks") from None
    except IsADirectoryError:
        raise UsageError(f"--prices {path}: a directory; give the price table's JSON file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read the price table ({error.__class__.__name__})") from None
    except (ValueError, RecursionError) as error:
        raise UsageError(f"{path}: not a JSON price table ({error})") from None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e12:
        raise UsageError(f"{where}: expected a number >= 0, got {value!r}")
    return float(value)


def _table(name: str, table: Any, assumptions: Any, source: str) -> PriceTable:
    prices = {}
    for item in ITEMS:
        entry = table["items"][item]
        value = entry["price"]
        price = None if value is None else _number(value, f"{source}: tables.{name}.items.{item}.price")
        prices[item] = Price(item, price, str(entry.get("page", "")), str(entry.get("read", "")))
    speed = {kind: _number(assumptions["seconds_per_call"][kind], f"{source}: assumptions.seconds_per_call.{kind}")
             for kind in ("basic", "ai")}
    ratio = _number(assumptions["output_size_ratio"], f"{source}: assumptions.output_size_ratio")
    rate = int(_number(table["ci_rate_limit_per_s"], f"{source}: tables.{name}.ci_rate_limit_per_s"))
    return PriceTable(name, tuple(str(table.get("regions", "")).split()), str(table["currency"]), max(rate, 1),
                      prices, speed, ratio, source)


def load_prices(path: Path | None = None) -> PriceBook:
    """The price file (the built-in one when ``path`` is None); ``UsageError`` naming the file and the field when it
    is malformed."""
    document, source = _document(path)
    try:
        tables = tuple(_table(str(name), table, document["assumptions"], source)
                       for name, table in document["tables"].items())
    except (KeyError, TypeError, AttributeError) as error:
        raise UsageError(f"{source}: not a cosrecon price table (missing or wrong field {error})") from None
    if not tables:
        raise UsageError(f"{source}: the price file has no tables")
    return PriceBook(tables)
