"""The provider inside Pulumi's own dynamic-provider host (``python -m pulumi.dynamic``), spoken to over gRPC.

This is the process Pulumi starts for dynamic resources, in Pulumi.yaml's ``main`` folder. It unpickles the provider
from the ``__provider`` property (so this checks the by-reference pickle resolves there, with no PYTHONPATH help),
configures it with the stack config (credentials as secrets), and serves Check/Diff/Create/Read/Delete.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from tests.pulumi.conftest import PROGRAM_DIR, declaration_text, jpeg
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from reconciler import local
from reconciler.pulumi import engine
from reconciler.pulumi.provider import ProcessingSetProvider

BUCKET = "hostbucket-1250000000"
URN = "urn:pulumi:test::cosrecon::pulumi-python:dynamic/cosrecon:ProcessingSet::hosted"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SECURITY_TOKEN"):
            mp.delenv(name, raising=False)
        srv = local.LocalServer(tmp_path_factory.mktemp("cos"), buckets=[BUCKET]).start()
        try:
            yield srv
        finally:
            srv.stop()


@pytest.fixture(scope="module")
def host(server: Any) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TENCENTCLOUD_") and k not in ("PYTHONPATH", "COSRECON_ENDPOINT")}
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=PROGRAM_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.isdigit():
            proc.kill()
            assert proc.stderr is not None
            pytest.fail(f"pulumi.dynamic host did not start: {line!r} {proc.stderr.read().decode()[-2000:]}")
        port = int(line)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield provider_pb2_grpc.ResourceProviderStub(channel)
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def struct(props: dict[str, Any]) -> struct_pb2.Struct:
    return asyncio.run(rpc.serialize_properties(props, {}))


def plain(message: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(message))


def test_check_create_diff_read_through_the_pulumi_host(server: Any, host: Any) -> None:
    from reconciler import local as local_module

    with engine.backend_for(engine.Connection(endpoint=server.endpoint), _decl(), None) as backend:
        backend.storage("ap-guangzhou").put_object(BUCKET, "products/x/a.jpg", jpeg())
    text = declaration_text("hosted", BUCKET)
    props = {"declaration": engine.yamlfile.parse_text(text).data, "source_path": "decls/hosted.yaml",
             "source_text": text, "connection": engine.Connection(endpoint=server.endpoint).to_inputs(),
             "__provider": serialize_provider(ProcessingSetProvider())}
    # the stack config, as the engine sends it: credentials come in as (unwrapped) secrets
    host.Configure(provider_pb2.ConfigureRequest(args=struct({
        "cosrecon:secretId": local_module.DEFAULT_SECRET_ID, "cosrecon:secretKey": local_module.DEFAULT_SECRET_KEY})))

    bad = dict(props, source_text=text.replace("region: ap-guangzhou", "region: 12"))
    failures = host.Check(provider_pb2.CheckRequest(urn=URN, olds=struct({}), news=struct(bad))).failures
    assert [f.property for f in failures] == ["declaration"]
    assert failures[0].reason.startswith("decls/hosted.yaml:3:")  # file:line:col as `cosrecon validate` says it

    checked = host.Check(provider_pb2.CheckRequest(urn=URN, olds=struct({}), news=struct(props)))
    assert list(checked.failures) == []
    created = host.Create(provider_pb2.CreateRequest(urn=URN, properties=checked.inputs))
    assert created.id == "hosted"
    outs = plain(created.properties)
    assert outs["summary"]["create"] == 2 and outs["calls"] == 1
    assert outs["ledger_generation"] not in ("", "0")
    assert local_module.DEFAULT_SECRET_KEY not in str(outs)

    diff = host.Diff(provider_pb2.DiffRequest(id=created.id, urn=URN, olds=created.properties, news=checked.inputs))
    assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE
    assert list(diff.replaces) == []

    read = host.Read(provider_pb2.ReadRequest(id=created.id, urn=URN, properties=created.properties))
    assert plain(read.properties)["recorded"] == outs["recorded"]


def _decl() -> Any:
    return engine.load_declaration("decls/hosted.yaml", declaration_text("hosted", BUCKET))


def test_the_provider_unpickles_in_any_working_folder(tmp_path: Path) -> None:
    """The provider lives in the installed package, so Pulumi's host finds it whatever its working folder."""
    blob = serialize_provider(ProcessingSetProvider())
    script = ("import base64, dill, sys; p = dill.loads(base64.b64decode(sys.argv[1])); print(type(p).__module__)")
    elsewhere = subprocess.run([sys.executable, "-c", script, blob], cwd=tmp_path, capture_output=True,
                               env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert elsewhere.returncode == 0, elsewhere.stderr.decode()


CALL_ELSEWHERE = """
import base64, json, sys
import dill
provider = dill.loads(base64.b64decode(sys.argv[1]))
props = json.loads(sys.argv[2])
created = provider.create(props)
diff = provider.diff(created.id, {**props, **created.outs}, props)
print(json.dumps({"module": type(provider).__module__, "id": created.id, "summary": created.outs["summary"],
                  "changes": diff.changes}))
"""


def test_the_unpickled_provider_creates_and_diffs_from_an_unrelated_folder(server: Any, tmp_path: Path) -> None:
    """Pickled as Pulumi pickles it (dill), then unpickled and driven in a fresh interpreter whose working folder
    is unrelated to the project and whose sys.path has no help: ``create`` then ``diff`` against the local server."""
    with engine.backend_for(engine.Connection(endpoint=server.endpoint), _decl(), None) as backend:
        backend.storage("ap-guangzhou").put_object(BUCKET, "products/elsewhere/a.jpg", jpeg())
    text = declaration_text("elsewhere", BUCKET).replace("products/**/*.jpg", "products/elsewhere/*.jpg")
    props = {"declaration": None, "source_path": "decls/elsewhere.yaml", "source_text": text,
             "connection": engine.Connection(endpoint=server.endpoint, state_dir=str(tmp_path / "state")).to_inputs()}
    blob = serialize_provider(ProcessingSetProvider())
    unrelated = tmp_path / "somewhere" / "else"
    unrelated.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TENCENTCLOUD_") and k not in ("PYTHONPATH", "COSRECON_ENDPOINT")}
    ran = subprocess.run([sys.executable, "-c", CALL_ELSEWHERE, blob, json.dumps(props)], cwd=unrelated,
                         capture_output=True, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr.decode()[-3000:]
    result = json.loads(ran.stdout.decode().strip().splitlines()[-1])
    assert result["module"] == "reconciler.pulumi.provider"
    assert result["id"] == "elsewhere" and result["summary"]["create"] == 2
    assert result["changes"] is False  # applied: a fresh plan has nothing left to do
    assert (tmp_path / "state" / "elsewhere").is_dir() and not (unrelated / "state").exists()
