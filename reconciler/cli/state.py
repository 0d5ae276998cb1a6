"""`cosrecon state list|show|rm`: what the ledger records, without reading ``.cosrecon/<set>/ledger.json`` by hand.

list: one line (or JSON object) per recorded output: set, address, output, source, source ETag, rule, made at.
show: every recorded field of one output, by key (``bucket/key`` or ``key``).
rm: forget entries: the objects stay; the ledger stops recording them. The reading and forgetting are ``ops.state``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.apply.contract import ApplyOptions
from reconciler.cli.confirm import confirm_or_abort
from reconciler.cli.durations import DURATION
from reconciler.cli.options import backend_options, connection_from_options
from reconciler.declare.load import load_declarations
from reconciler.errors import UsageError
from reconciler.model import Declaration, Ledger, LedgerEntry
from reconciler.ops.state import forget, read_ledgers

SHOWN = 20  # entries listed before a confirmation, then "... and N more"
FORMAT_VERSION = 1


def _rule_of(ledger: Ledger, address: str) -> str:
    """The rule of ``address`` in the last applied declaration ("" when not recorded there)."""
    pipeline, _, output = address.partition(".")
    try:
        return str(ledger.declaration["pipelines"][pipeline]["outputs"][output]["rule"])  # type: ignore[index]
    except (KeyError, TypeError):
        return ""


def _matches_address(entry: LedgerEntry, address: str | None) -> bool:
    return address is None or entry.address == address or entry.address.startswith(address + ".")


def _matches_key(entry: LedgerEntry, key: str) -> bool:
    return entry.key == key or f"{entry.bucket}/{entry.key}" == key


def _pick(decls: Sequence[Declaration], set_name: str | None) -> list[Declaration]:
    if set_name is None:
        return list(decls)
    chosen = [d for d in decls if d.name == set_name]
    if not chosen:
        raise UsageError(f"--set {set_name!r}: not declared in the given paths (declared: "
                         f"{', '.join(d.name for d in decls)})")
    return chosen


def _rows(ledgers: Mapping[str, tuple[Declaration, Ledger]], address: str | None) -> Iterator[dict[str, str]]:
    for name, (decl, ledger) in ledgers.items():
        for e in sorted(ledger.entries.values(), key=lambda e: (e.address, e.bucket, e.key)):
            if _matches_address(e, address):
                yield {"set": name, "address": e.address, "bucket": e.bucket, "key": e.key,
                       "source_bucket": decl.bucket, "source_key": e.source_key, "source_etag": e.source_etag,
                       "rule": _rule_of(ledger, e.address), "fingerprint": e.fingerprint,
                       "output_etag": e.output_etag, "made_at": e.made_at}


def _read(paths: Sequence[Path], set_name: str | None, endpoint: str | None, local: bool,
          state_dir: Path | None) -> dict[str, tuple[Declaration, Ledger]]:
    decls = _pick(load_declarations(list(paths)), set_name)
    return read_ledgers(decls, connection_from_options(endpoint, local, state_dir))


def _line(row: Mapping[str, str]) -> str:
    return (f"{row['set']}  {row['address']}  {row['bucket']}/{row['key']}  <- {row['source_key']} "
            f"(etag {row['source_etag']})  made {row['made_at']}")


@click.group("state")
def state() -> None:
    """Inspect and edit what the ledger records (the objects themselves are never touched)."""


@state.command("list")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--set", "set_name", metavar="SET", default=None, help="Only this set's ledger.")
@click.option("--address", metavar="ADDRESS", default=None,
              help="Only outputs at this address: pipeline.output, or a pipeline.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line per output; json: every recorded field.")
@backend_options
def list_command(paths: tuple[Path, ...], set_name: str | None, address: str | None, fmt: str,
                 endpoint: str | None, local: bool, state_dir: Path | None) -> None:
    """List the outputs the ledgers of the sets declared in PATHs record."""
    rows = list(_rows(_read(paths, set_name, endpoint, local, state_dir), address))
    if fmt == "json":
        click.echo(json.dumps({"format_version": FORMAT_VERSION, "kind": "state", "entries": rows}, indent=2,
                              ensure_ascii=False))
        return
    for row in rows:
        click.echo(_line(row))
    click.echo(f"{len(rows)} recorded output(s).", err=True)


@state.command("show")
@click.argument("key", metavar="KEY")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one field a line; json: the entry as an object.")
@backend_options
def show_command(key: str, paths: tuple[Path, ...], fmt: str, endpoint: str | None, local: bool,
                 state_dir: Path | None) -> None:
    """Show what the ledger records of the output KEY (bucket/key, or a key) of a set declared in PATHs."""
    found = [r for r in _rows(_read(paths, None, endpoint, local, state_dir), None)
             if r["key"] == key or f"{r['bucket']}/{r['key']}" == key]
    if not found:
        raise UsageError(f"no ledger of the sets in {', '.join(map(str, paths))} records an output at {key!r}")
    if fmt == "json":
        click.echo(json.dumps(found[0] if len(found) == 1 else found, indent=2, ensure_ascii=False))
        return
    for n, row in enumerate(found):
        if n:
            click.echo("")
        click.echo("\n".join(_fields(row)))


def _fields(row: Mapping[str, Any]) -> list[str]:
    return [f"set:          {row['set']}", f"address:      {row['address']}",
            f"output:       {row['bucket']}/{row['key']}", f"output etag:  {row['output_etag']}",
            f"source:       {row['source_bucket']}/{row['source_key']}", f"source etag:  {row['source_etag']}",
            f"rule:         {row['rule'] or '(not in the last applied declaration)'}",
            f"fingerprint:  {row['fingerprint']}", f"made at:      {row['made_at']}"]


@state.command("rm")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--set", "set_name", metavar="SET", default=None,
              help="Forget in this set only; alone, forget every output it records (retiring it).")
@click.option("--address", metavar="ADDRESS", default=None, help="Forget the outputs at pipeline.output (or a pipeline).")
@click.option("--key", "keys", multiple=True, metavar="KEY", help="Forget the output at KEY (bucket/key, or a key). Repeatable.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--lock-timeout", type=DURATION, default="0s", show_default=True, metavar="DURATION",
              help="How long to wait for another run's lock on the set, e.g. 30s, 5m, 1h30m.")
@backend_options
def rm_command(paths: tuple[Path, ...], set_name: str | None, address: str | None, keys: tuple[str, ...], yes: bool,
               lock_timeout: float, endpoint: str | None, local: bool, state_dir: Path | None) -> None:
    """Forget ledger entries of the sets declared in PATHs; the objects stay where they are."""
    if set_name is None and address is None and not keys:
        raise UsageError("state rm: say what to forget: --set SET, --address ADDRESS and/or --key KEY")
    decls = _pick(load_declarations(list(paths)), set_name)

    def choose(_: str, entry: LedgerEntry) -> bool:
        return _matches_address(entry, address) and (not keys or any(_matches_key(entry, k) for k in keys))

    def confirm(chosen: Sequence[tuple[str, LedgerEntry]]) -> None:
        click.echo(f"Forgetting {len(chosen)} recorded output(s) (the objects stay):", err=True)
        for name, e in chosen[:SHOWN]:
            click.echo(f"  {name}  {e.address}  {e.bucket}/{e.key}", err=True)
        if len(chosen) > SHOWN:
            click.echo(f"  ... and {len(chosen) - SHOWN} more", err=True)
        confirm_or_abort("Forget these ledger entries?", yes=yes, command="state rm")

    forgotten = forget(decls, connection_from_options(endpoint, local, state_dir), choose, confirm,
                       ApplyOptions(lock_timeout=lock_timeout))
    if not forgotten:
        raise UsageError("state rm: no recorded output matches; nothing was forgotten")
    click.echo(f"Forgot {len(forgotten)} recorded output(s); the objects were not touched.")


COMMANDS: list[click.Command] = [state]
