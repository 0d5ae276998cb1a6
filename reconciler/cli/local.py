"""`cosrecon local`: run the embedded COS + Cloud Infinite compatible server, or seed its store from a folder."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import click

from reconciler import credentials
from reconciler.cli.endpoint import endpoint_callback
from reconciler.render.escape import escape_text

from reconciler.errors import UsageError

DEFAULT_ROOT = ".cosrecon/local"


@click.group("local")
def local() -> None:
    """The embedded local COS + Cloud Infinite server (no cloud account needed)."""


@local.command("serve")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ROOT, show_default=True,
              envvar="COSRECON_LOCAL_ROOT", show_envvar=True, metavar="DIR",
              help="Directory holding the store (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="ADDRESS", help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=9000, show_default=True, metavar="PORT",
              help="Port to listen on, 0-65535; 0 picks a free port.")
@click.option("--bucket", "buckets", multiple=True, metavar="NAME", help="Create this bucket at start (repeatable).")
@click.option("--ci-qps", type=click.FloatRange(min=0), default=100.0, show_default=True, metavar="QPS",
              help="Cloud Infinite persistent-processing rate limit per second (0 = off).")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, metavar="MS",
              help="Delay in milliseconds added to processing calls.")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0.0, metavar="SHARE",
              help="Share of processing calls failing 500, 0-1.")
@click.option("--throttle-rate", type=click.FloatRange(0, 1), default=0.0, metavar="SHARE",
              help="Share of processing calls answered 503 SlowDown, 0-1.")
@click.option("--seed", type=int, default=None, metavar="N", help="Seed for the injected faults (reproducible runs).")
@click.option("--advanced-compression", is_flag=True,
              help="Enable image advanced compression on every bucket (AVIF/HEIF/TPG output; off by default).")
@click.option("--style-separators", default="", metavar="CHARS",
              help="Style separators enabled on every bucket, among - _ ! / (style names may not contain them).")
def serve(root: Path, host: str, port: int, buckets: tuple[str, ...], ci_qps: float, latency_ms: float,
          fail_rate: float, throttle_rate: float, seed: int | None, advanced_compression: bool,
          style_separators: str) -> None:
    """Serve the COS XML API and CI processing until interrupted (Ctrl-C)."""
    from reconciler.local import DEFAULT_SECRET_KEY, LocalServer
    from reconciler.local.protocol import valid_bucket_name

    if any(ch not in "-_!/" for ch in style_separators):
        raise UsageError(f"--style-separators {style_separators!r}: separators are among - _ ! /")
    for name in buckets:
        if not valid_bucket_name(name):
            raise UsageError(f"--bucket {name!r}: bucket names are lower-case letters, digits and '-'")
    credentials.environment()  # both or neither: never the public pair because one of the two is missing
    try:
        server = LocalServer(root, host=host, port=port, buckets=buckets, ci_qps=ci_qps, latency_ms=latency_ms,
                             fail_rate=fail_rate, throttle_rate=throttle_rate, seed=seed,
                             advanced_compression=advanced_compression, style_separators=style_separators)
        server.start()
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # a plain `kill` stops as cleanly as Ctrl-C
    try:
        click.echo(f"cosrecon local server: {server.endpoint} (store {Path(root).resolve()})")
        click.echo(f"SecretId:  {server.secret_id}")
        if server.credentials_from_env:
            click.echo("SecretKey: (from TENCENTCLOUD_SECRET_KEY)")
        elif server.secret_key == DEFAULT_SECRET_KEY:
            click.echo(f"SecretKey: {server.secret_key}  (the well-known local default)")
        click.echo(f"Buckets:   {', '.join(name for name, _ in server.store.list_buckets()) or '(none)'}")
        click.echo(f"Use: --endpoint {server.endpoint}  (or COSRECON_ENDPOINT={server.endpoint}); Ctrl-C stops.")
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopping.", err=True)
    finally:
        server.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@local.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--bucket", required=True, metavar="NAME", help="Bucket to copy into (created if missing).")
@click.option("--prefix", default="", metavar="PREFIX", help="Key prefix, e.g. 'photos/'.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ROOT, show_default=True,
              envvar="COSRECON_LOCAL_ROOT", show_envvar=True, metavar="DIR",
              help="Directory holding the store.")
def import_(directory: Path, bucket: str, prefix: str, root: Path) -> None:
    """Copy a folder of files into the local store without HTTP (fast seeding)."""
    from reconciler.local import import_tree
    from reconciler.local.protocol import valid_bucket_name

    if not valid_bucket_name(bucket):
        raise UsageError(f"--bucket {bucket!r}: bucket names are lower-case letters, digits and '-'")
    count = import_tree(root, directory, bucket, prefix)
    click.echo(f"Imported {count} object(s) from {directory} into {bucket}/{prefix} (store {root}).")


@local.command("inventory")
@click.argument("bucket", metavar="BUCKET")
@click.option("--destination", required=True, metavar="BUCKET[/PREFIX]",
              help="Where the report goes: a bucket, and a key prefix for it (COS's inventory destination).")
@click.option("--config-id", default="cosrecon", show_default=True, metavar="ID",
              help="The inventory configuration's id: a folder of the report's layout.")
@click.option("--endpoint", envvar="COSRECON_ENDPOINT", default=None, metavar="URL", callback=endpoint_callback,
              help="The running local server (env COSRECON_ENDPOINT); without it the store under --root is served "
                   "in-process for the command.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ROOT, show_default=True,
              envvar="COSRECON_LOCAL_ROOT", show_envvar=True, metavar="DIR", help="The store, when no --endpoint.")
@click.option("--region", default="ap-guangzhou", show_default=True, metavar="REGION", help="The buckets' region.")
def inventory(bucket: str, destination: str, config_id: str, endpoint: str | None, root: Path, region: str) -> None:
    """Write a COS Inventory report of BUCKET now, in COS's layout (the cloud writes one daily or weekly):
    <prefix>/<appid>/<bucket>/<config-id>/<YYYYMMDD>/manifest.json, for `--inventory`."""
    from reconciler.ops.inventory import write_inventory

    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", config_id):
        raise UsageError(f"--config-id {config_id!r}: 1-64 letters, digits, '.', '_' or '-'")
    target, _, prefix = destination.partition("/")
    if not target:
        raise UsageError(f"--destination {destination!r}: expected BUCKET or BUCKET/PREFIX")
    written = write_inventory(bucket, target, prefix, config_id, endpoint=endpoint, root=root, region=region)
    click.echo(escape_text(f"Wrote the inventory report of {bucket}: {written.objects} object(s) in "
                           f"{written.files} file(s); use --inventory cos://{target}/{written.manifest_key}"))


COMMANDS: list[click.Command] = [local]
