"""The ``ProcessingSet`` dynamic resource: one per processing set, planned and applied by the cosrecon engine.

Pulumi pickles the provider (dill) into the stack's state and runs it in its dynamic-provider host, whose working
folder is this one (Pulumi.yaml's ``main``), so the class is pickled by reference to this module. The provider holds
no client, lock or thread: every method opens what it needs and closes it (see ``cosrecon_engine``). Credentials come
from the environment (``TENCENTCLOUD_SECRET_ID``/``TENCENTCLOUD_SECRET_KEY``) or from the stack's secret config
(``cosrecon:secretId``/``cosrecon:secretKey``) through ``configure``; they are kept in memory only, dropped when
pickled, and never appear in inputs, outputs or messages.

Lifecycle: ``check`` validates (the messages of ``cosrecon validate``); ``diff`` plans and reports changes when the plan
has something to do (never a replacement); ``create``/``update`` apply; ``delete`` keeps the outputs unless the
declaration says ``prune: true``; ``read`` refreshes the counts from the ledger.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from reconciler.credentials import Credentials
from reconciler.pulumi import engine

INPUTS = ("declaration", "source_path", "source_text", "connection", "apply_settings")
OUTPUTS = ("set_name", "summary", "calls", "ledger_generation", "declaration_digest", "recorded")


F = TypeVar("F", bound=Callable[..., Any])


def _redacted(method: F) -> F:
    """Any error leaving a provider method carries no secret (the environment's or the stack config's)."""

    @functools.wraps(method)
    def guarded(self: ProcessingSetProvider, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            secrets = (self._credentials.secret_key, self._credentials.token) if self._credentials else ()
            text = engine.redact(str(error), secrets)
            if text != str(error):
                error.args = (text,)
                if hasattr(error, "message"):
                    error.message = text
            raise

    return guarded  # type: ignore[return-value]


class SetDiffResult(DiffResult):
    """A DiffResult that also says what the plan would do, per ``pipeline.output`` (Pulumi itself ignores it)."""

    def __init__(self, changes: bool, by_output: dict[str, dict[str, int]], description: str) -> None:
        super().__init__(changes=changes, replaces=[], stables=["set_name"], delete_before_replace=False)
        self.by_output = by_output
        self.description = description


class ProcessingSetProvider(ResourceProvider):
    """CRUD of one processing set, through the cosrecon engine. Holds nothing but (unpickled) credentials."""

    _credentials: Credentials | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_credentials", None)  # never pickled into Pulumi's state
        return state

    def configure(self, req: ConfigureRequest) -> None:
        secret_id = req.config.get("cosrecon:secretId")
        secret_key = req.config.get("cosrecon:secretKey")
        token = req.config.get("cosrecon:securityToken")
        engine.check_credentials(secret_id, secret_key, token)  # both or neither; never printed
        if secret_id and secret_key:
            self._credentials = Credentials(str(secret_id), str(secret_key),
                                                   str(req.config.get("cosrecon:securityToken") or "") or None)

    # --- validation -------------------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        text, path = news.get("source_text"), news.get("source_path")
        if _unknown(text) or _unknown(path):
            return CheckResult(news, [])  # a preview with inputs computed elsewhere: checked again when known
        if not isinstance(text, str) or not isinstance(path, str):
            return CheckResult(news, [CheckFailure("source_text", "the declaration's text and path are required")])
        failures = [CheckFailure("declaration", str(problem)) for problem in engine.check_declaration(path, text)]
        return CheckResult(news, failures)

    # --- planning ---------------------------------------------------------------------------------------------

    @_redacted
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if any(_unknown(news.get(key)) for key in INPUTS):
            return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        decl = engine.load_declaration(news["source_path"], news["source_text"])
        connection = engine.Connection.from_inputs(news.get("connection"))
        plan = engine.plan_set(decl, connection, self._credentials)
        by_output = engine.changes_by_output(plan)
        description = engine.describe_changes(decl.name, by_output)
        moved = (olds.get("declaration_digest") != engine.declaration_digest(decl)
                 or engine.Connection.from_inputs(olds.get("connection")) != connection)
        changes = plan.has_work or moved
        if description:
            pulumi.log.info(description)
        return SetDiffResult(changes, by_output, description)

    # --- applying ---------------------------------------------------------------------------------------------

    @_redacted
    def create(self, props: dict[str, Any]) -> CreateResult:
        decl = engine.load_declaration(props["source_path"], props["source_text"])
        outs = engine.apply_set(decl, engine.Connection.from_inputs(props.get("connection")), self._credentials,
                                _options(props))
        return CreateResult(decl.name, {**_inputs(props), **outs})

    @_redacted
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        decl = engine.load_declaration(news["source_path"], news["source_text"])
        outs = engine.apply_set(decl, engine.Connection.from_inputs(news.get("connection")), self._credentials,
                                _options(news))
        return UpdateResult({**_inputs(news), **outs})

    @_redacted
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        decl = engine.load_declaration(props["source_path"], props["source_text"])
        if decl.prune:
            engine.retire_set(decl, engine.Connection.from_inputs(props.get("connection")), self._credentials,
                              _options(props))

    @_redacted
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not isinstance(props.get("source_text"), str):
            return ReadResult(id_, props)  # nothing to read the ledger with (an import without inputs)
        decl = engine.load_declaration(props["source_path"], props["source_text"])
        outs = engine.read_set(decl, engine.Connection.from_inputs(props.get("connection")), self._credentials)
        return ReadResult(id_, {**props, **outs})


def _unknown(value: Any) -> bool:
    """A value Pulumi does not know yet (a preview of an input computed by another resource)."""
    from pulumi.runtime import rpc

    return isinstance(value, str) and value == rpc.UNKNOWN


def _options(props: dict[str, Any]) -> Any:
    return engine.ApplySettings.from_inputs(props.get("apply_settings")).options()


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {key: props.get(key) for key in INPUTS}


class ProcessingSet(Resource, module="cosrecon", name="ProcessingSet"):
    """One processing set as a Pulumi resource (type ``pulumi-python:dynamic/cosrecon:ProcessingSet``)."""

    set_name: pulumi.Output[str]
    summary: pulumi.Output[dict[str, int]]
    calls: pulumi.Output[int]
    ledger_generation: pulumi.Output[str]
    declaration_digest: pulumi.Output[str]
    recorded: pulumi.Output[dict[str, int]]

    def __init__(self, name: str, *, declaration: Any, source_path: str, source_text: str,
                 connection: engine.Connection = engine.Connection(),
                 apply_settings: engine.ApplySettings = engine.ApplySettings(),
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "declaration": declaration,
            "source_path": source_path,
            "source_text": source_text,
            "connection": connection.to_inputs(),
            "apply_settings": apply_settings.to_inputs(),
        }
        props.update({key: None for key in OUTPUTS})  # computed by the provider
        super().__init__(ProcessingSetProvider(), name, props, opts)
