"""The dynamic provider's methods, called as Pulumi's provider host calls them, against the embedded local server.

create -> diff (no changes) -> a rule changes (diff names it) -> update (converged) -> read -> delete (keeps the
outputs) -> delete with ``prune: true`` (removes only recorded outputs); and a provider that went through Pulumi's own
pickling (``serialize_provider``, dill) still works. The real SDK talks to the real local server over 127.0.0.1.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dill
import pytest
from tests.pulumi.conftest import declaration_text, jpeg
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider

from reconciler.pulumi import engine
from reconciler import local
from reconciler.errors import StorageError
from reconciler.pulumi.provider import ProcessingSetProvider, SetDiffResult

BUCKET = "pulumibucket-1250000000"
SOURCES = ("products/shoes/red.jpg", "products/shoes/blue.jpg", "products/bags/tote.jpg")
THUMB = "thumbnails.thumb-200"
SMALL = "thumbnails.small"



@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SECURITY_TOKEN"):
            mp.delenv(name, raising=False)  # both sides use the embedded server's well-known pair
        srv = local.LocalServer(tmp_path_factory.mktemp("cos"), buckets=[BUCKET])
        srv.start()
        try:
            with engine.backend_for(engine.Connection(endpoint=srv.endpoint), _decl(), None) as backend:
                storage = backend.storage("ap-guangzhou")
                for i, key in enumerate(SOURCES):
                    storage.put_object(BUCKET, key, jpeg((40 * i, 100, 200)), content_type="image/jpeg")
                storage.put_object(BUCKET, "thumbs/unmanaged.txt", b"not ours")
            yield srv
        finally:
            srv.stop()


def _decl(**kwargs: Any) -> Any:
    return engine.load_declaration("decls/catalog.yaml", declaration_text("catalog", BUCKET, **kwargs))


def props(server: Any, **kwargs: Any) -> dict[str, Any]:
    text = declaration_text("catalog", BUCKET, **kwargs)
    source = engine.SetSource("catalog", "decls/catalog.yaml", text, None)
    return {"declaration": engine.yamlfile.parse_text(text).data, "source_path": source.path, "source_text": text,
            "connection": engine.Connection(endpoint=server.endpoint).to_inputs()}


def keys(server: Any, prefix: str) -> set[str]:
    with engine.backend_for(engine.Connection(endpoint=server.endpoint), _decl(), None) as backend:
        return {o.key for o in backend.storage("ap-guangzhou").list_objects(BUCKET, prefix)}


NEW_RULE = "imageMogr2/thumbnail/300x/format/webp"


@pytest.fixture(scope="module")
def lifecycle(server: Any) -> dict[str, Any]:
    """Run the whole lifecycle once (the server is shared); each test asserts one step."""
    provider = ProcessingSetProvider()
    steps: dict[str, Any] = {}
    processed: dict[str, int] = {}  # image_process requests the server saw during each step

    def step(name: str, fn: Any, *args: Any) -> Any:
        before = server.stats().get("image_process", 0)
        steps[name] = fn(*args)
        processed[name] = server.stats().get("image_process", 0) - before
        return steps[name]

    first = props(server)
    assert provider.check({}, first).failures == []
    step("diff_before_create", provider.diff, "", {}, first)
    created = step("created", provider.create, first)
    step("diff_converged", provider.diff, created.id, created.outs, first)
    changed = props(server, rule=NEW_RULE)
    assert provider.check(created.outs, changed).failures == []
    step("diff_rule_changed", provider.diff, created.id, created.outs, changed)
    updated = step("updated", provider.update, created.id, created.outs, changed)
    step("diff_after_update", provider.diff, created.id, updated.outs, changed)
    steps["processed"] = processed
    steps["read"] = provider.read(created.id, updated.outs)
    steps["outputs_before_delete"] = keys(server, "thumbs/") | keys(server, "small/")
    provider.delete(created.id, updated.outs)
    steps["outputs_after_delete"] = keys(server, "thumbs/") | keys(server, "small/")
    steps["changed_props"] = changed
    return steps


def test_create_applies_and_returns_counts_calls_generation_digest(lifecycle: dict[str, Any]) -> None:
    created = lifecycle["created"]
    assert created.id == "catalog"
    outs = created.outs
    assert outs["summary"]["create"] == 2 * len(SOURCES)
    assert outs["summary"]["failed"] == 0
    assert outs["calls"] == len(SOURCES)  # both outputs of a source in one image_process call
    assert lifecycle["processed"]["created"] == len(SOURCES)  # what the server saw, not only what we counted
    assert outs["recorded"] == {SMALL: len(SOURCES), THUMB: len(SOURCES)}
    assert outs["ledger_generation"] not in ("", "0")
    assert outs["declaration_digest"] == engine.declaration_digest(_decl())
    assert outs["source_text"] == declaration_text("catalog", BUCKET)  # inputs kept for later diffs


def test_diff_before_create_names_every_output(lifecycle: dict[str, Any]) -> None:
    diff = lifecycle["diff_before_create"]
    assert isinstance(diff, SetDiffResult) and diff.changes is True
    assert diff.by_output == {SMALL: {"create": len(SOURCES)}, THUMB: {"create": len(SOURCES)}}
    assert all(lifecycle["processed"][name] == 0 for name in lifecycle["processed"] if name.startswith("diff"))


def test_diff_of_a_converged_set_has_no_changes(lifecycle: dict[str, Any]) -> None:
    diff = lifecycle["diff_converged"]
    assert diff.changes is False
    assert diff.by_output == {}
    assert diff.replaces == []


def test_a_rule_change_is_named_in_the_diff_and_never_a_replacement(lifecycle: dict[str, Any]) -> None:
    diff = lifecycle["diff_rule_changed"]
    assert diff.changes is True
    assert diff.replaces == []  # the set updates in place
    assert diff.by_output == {THUMB: {"replace": len(SOURCES)}}  # only the output whose rule changed
    assert f"catalog: {THUMB}: {len(SOURCES)} to replace" in diff.description


def test_update_remakes_only_the_changed_output_and_converges(lifecycle: dict[str, Any]) -> None:
    outs = lifecycle["updated"].outs
    assert outs["summary"]["replace"] == len(SOURCES)
    assert outs["summary"]["create"] == 0
    assert outs["calls"] == len(SOURCES)
    assert lifecycle["processed"]["updated"] == len(SOURCES)
    assert outs["ledger_generation"] != lifecycle["created"].outs["ledger_generation"]
    assert outs["declaration_digest"] == engine.declaration_digest(_decl(rule=NEW_RULE))
    assert lifecycle["diff_after_update"].changes is False


def test_read_refreshes_from_the_ledger(lifecycle: dict[str, Any]) -> None:
    read = lifecycle["read"]
    assert read.id == "catalog"
    assert read.outs["ledger_generation"] == lifecycle["updated"].outs["ledger_generation"]
    assert read.outs["recorded"] == {SMALL: len(SOURCES), THUMB: len(SOURCES)}
    assert read.outs["source_text"] == lifecycle["changed_props"]["source_text"]


def test_delete_keeps_the_outputs_by_default(lifecycle: dict[str, Any]) -> None:
    before, after = lifecycle["outputs_before_delete"], lifecycle["outputs_after_delete"]
    assert len(before) == 2 * len(SOURCES) + 1  # outputs + the unmanaged object
    assert after == before


def test_a_pickled_and_restored_provider_still_works(server: Any, lifecycle: dict[str, Any]) -> None:
    provider = ProcessingSetProvider()
    provider.configure(ConfigureRequest(Config({"cosrecon:secretId": "AKIDpickle",
                                                "cosrecon:secretKey": "pickled-secret-must-not-travel"}, "cosrecon")))
    blob = serialize_provider(provider)  # exactly what Pulumi stores in the state
    raw = base64.b64decode(blob)
    assert b"pickled-secret-must-not-travel" not in raw and b"AKIDpickle" not in raw
    restored = dill.loads(raw)
    assert isinstance(restored, ProcessingSetProvider)
    changed = lifecycle["changed_props"]
    diff = restored.diff("catalog", lifecycle["updated"].outs, changed)
    assert diff.changes is False
    assert restored.read("catalog", lifecycle["updated"].outs).outs["recorded"][THUMB] == len(SOURCES)


def test_configured_credentials_are_used(server: Any, lifecycle: dict[str, Any]) -> None:
    provider = ProcessingSetProvider()
    provider.configure(ConfigureRequest(Config({"cosrecon:secretId": "AKIDwrong", "cosrecon:secretKey": "wrong"},
                                               "cosrecon")))
    with pytest.raises(StorageError, match="InvalidAccessKeyId") as caught:  # the server saw the configured pair
        provider.diff("catalog", lifecycle["updated"].outs, lifecycle["changed_props"])
    assert "wrong" not in str(caught.value)  # the secret key is never in the message
    provider.configure(ConfigureRequest(Config({"cosrecon:secretId": local.DEFAULT_SECRET_ID,
                                                "cosrecon:secretKey": local.DEFAULT_SECRET_KEY}, "cosrecon")))
    assert provider.diff("catalog", lifecycle["updated"].outs, lifecycle["changed_props"]).changes is False


def test_delete_with_prune_removes_only_recorded_outputs(server: Any, lifecycle: dict[str, Any]) -> None:
    provider = ProcessingSetProvider()
    pruning = props(server, prune=True, rule=NEW_RULE)
    outs = provider.update("catalog", lifecycle["updated"].outs, pruning).outs  # prune: true recorded
    assert outs["summary"]["delete"] == 0 and outs["calls"] == 0  # nothing to do but record the declaration
    provider.delete("catalog", outs)
    assert keys(server, "thumbs/") | keys(server, "small/") == {"thumbs/unmanaged.txt"}
    assert set(keys(server, "products/")) == set(SOURCES)  # sources untouched
    assert provider.read("catalog", outs).outs["recorded"] == {}


def test_failed_calls_fail_the_step_with_cosrecon_summary_and_the_next_run_converges(server: Any) -> None:
    bucket = "failbucket-1250000000"
    server.create_bucket(bucket)
    text = declaration_text("failing", bucket)
    inputs = {"declaration": engine.yamlfile.parse_text(text).data, "source_path": "decls/failing.yaml",
              "source_text": text, "connection": engine.Connection(endpoint=server.endpoint).to_inputs()}
    with engine.backend_for(engine.Connection(endpoint=server.endpoint), _decl(), None) as backend:
        backend.storage("ap-guangzhou").put_object(bucket, "products/a.jpg", jpeg((1, 2, 3)))
    provider = ProcessingSetProvider()
    server.set_faults(fail_rate=1.0)  # every image_process fails with 500 InternalError, retries included
    try:
        with pytest.raises(engine.ApplyIncomplete, match="InternalError") as caught:
            engine.apply_set(engine.load_declaration("decls/failing.yaml", text),
                             engine.Connection(endpoint=server.endpoint), None,
                             engine_options(retries=1))
    finally:
        server.set_faults(fail_rate=0.0)
    assert "failing: 2 output(s) failed" in str(caught.value)
    created = provider.create(inputs)  # Pulumi's next `up` retries the create
    assert created.outs["summary"]["create"] == 2 and created.outs["summary"]["failed"] == 0
    assert provider.diff(created.id, created.outs, inputs).changes is False


def engine_options(retries: int) -> Any:
    from reconciler.apply.contract import ApplyOptions
    from reconciler.pacing import RetryPolicy

    return ApplyOptions(retry=RetryPolicy(attempts=retries, base=0.01, cap=0.02))


def test_a_set_locked_by_another_apply_fails_the_step_naming_the_holder(server: Any, lifecycle: dict[str, Any]) -> None:
    from reconciler.errors import LockError
    from reconciler.apply.contract import ApplyOptions
    from reconciler.apply.locking import lock_sets

    decl = _decl(rule=NEW_RULE)
    with engine.backend_for(engine.Connection(endpoint=server.endpoint), decl, None) as backend:
        with lock_sets([decl], backend, ApplyOptions()):  # another `cosrecon apply` holds the set
            with pytest.raises(LockError) as caught:
                ProcessingSetProvider().update("catalog", lifecycle["updated"].outs, lifecycle["changed_props"])
    assert "is locked by lock" in str(caught.value) and "cosrecon unlock" in str(caught.value)
