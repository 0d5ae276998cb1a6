"""A declaration's pipelines compiled for planning (PURE): what every output's rules are made of.

Everything that depends only on a declared output — its address, rule, destination bucket, fingerprint, fileid
template and the ``Target``s a call's rules point at, one per reason — is worked out once here, so the planner's
loop over 10^6 sources x outputs only renders keys and looks them up. ``expected_outputs`` gives the keys alone
(what an observer may HEAD instead of listing); ``source_prefixes`` and ``output_prefixes`` the key prefixes under
which sources and outputs fall (what an observer lists).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from reconciler.declare.globs import Glob, Selector, base_dir, compile_globs, merge_prefixes
from reconciler.model import ActionKind, Declaration, ObjectInfo, Reason, Target
from reconciler.declare.rules import fingerprint as rule_fingerprint
from reconciler.declare.rules import style_name, styled
from reconciler.declare.templates import FileidTemplate, output_key, source_variables, template_variables

_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True, slots=True)
class CompiledOutput:
    """Everything about one declared output that does not depend on the source."""

    index: int
    address: str
    template: str
    bucket: str
    fingerprint: str
    overwrite_source: bool
    # what a call's rule makes, by why it is made (shared by every call making this output for that reason)
    create: Target
    create_gone: Target  # recorded, but the object is gone
    create_over_source: Target  # overwrite_source: the source is no conflict
    replace_unmanaged: Target
    rule_changed: Target
    source_changed: Target
    output_changed: Target


@dataclass(frozen=True)
class CompiledPipeline:
    """A pipeline's selection and outputs, compiled."""

    selector: Selector
    bases: tuple[tuple[Glob, str], ...]  # (include glob, base dir) when bases differ; else ()
    base: str  # the one base dir when every include pattern shares it
    needs_base: bool  # a template uses {rel} or {reldir}
    outputs: tuple[CompiledOutput, ...]

    def base_for(self, key: str) -> str:
        if not self.needs_base or not self.bases:
            return self.base
        for regex, base in self.bases:
            if regex.match(key):
                return base
        return ""


def never_under(decl: Declaration) -> str:
    """The key prefix that is never a source: the ledger's, when it lives in the source bucket."""
    return decl.state.prefix if decl.state.bucket == decl.bucket else ""


def compile_pipelines(decl: Declaration, rule_changes: Mapping[str, tuple[str, str]],
                      styles: Mapping[str, str] | None = None) -> tuple[CompiledPipeline, ...]:
    """The compiled outputs of ``decl``; ``styles`` (the source bucket's image styles) make a ``style/<name>``
    rule's fingerprint cover the style's definition."""
    pipes: list[CompiledPipeline] = []
    index = 0
    skip = never_under(decl)
    for pipeline in decl.pipelines:
        outs: list[CompiledOutput] = []
        needs_base = False
        for output in pipeline.outputs:
            address = decl.address(pipeline, output)
            bucket = decl.output_bucket(output)
            change = rule_changes.get(address)
            detail = f"{change[0]} -> {change[1]}" if change else "rule, destination bucket or fileid changed"
            style = style_name(output.rule)
            if style is not None and not change:
                detail = f"style {style} redefined"
            absolute = FileidTemplate(output.fileid).absolute
            fingerprint = rule_fingerprint(styled(output.rule, styles or {}), bucket, output.fileid)

            def target(action: ActionKind, reason: Reason, why: str = "") -> Target:
                return Target(address, output.rule, bucket, fingerprint, absolute, action, reason, why)

            create, replace = ActionKind.CREATE, ActionKind.REPLACE
            outs.append(
                CompiledOutput(
                    index=index,
                    address=address,
                    template=output.fileid,
                    bucket=bucket,
                    fingerprint=fingerprint,
                    overwrite_source=output.overwrite_source,
                    create=target(create, Reason.MISSING),
                    create_gone=target(create, Reason.MISSING, "recorded output is gone"),
                    create_over_source=target(create, Reason.MISSING, "overwrites its source"),
                    replace_unmanaged=target(replace, Reason.REPLACE_UNMANAGED),
                    rule_changed=target(replace, Reason.RULE_CHANGED, detail),
                    source_changed=target(replace, Reason.SOURCE_CHANGED),
                    output_changed=target(replace, Reason.OUTPUT_CHANGED),
                )
            )
            index += 1
            needs_base = needs_base or bool({"rel", "reldir"} & set(template_variables(output.fileid)))
        include = pipeline.source.include
        distinct = {base_dir(p) for p in include}
        bases: tuple[tuple[Glob, str], ...] = ()
        if len(distinct) > 1:
            bases = tuple((regex, base_dir(p)) for p in include if (regex := compile_globs((p,))) is not None)
        pipes.append(
            CompiledPipeline(
                selector=Selector(include, pipeline.source.exclude, skip),
                bases=bases,
                base=next(iter(distinct)) if len(distinct) == 1 else "",
                needs_base=needs_base,
                outputs=tuple(outs),
            )
        )
    return tuple(pipes)


def expected_outputs(decl: Declaration, sources: Iterable[ObjectInfo]) -> Iterator[tuple[str, str, str]]:
    """(address, bucket, key) of every expected output: what an observer may HEAD instead of listing."""
    pipes = compile_pipelines(decl, {})
    for src in sources:
        for pipe in pipes:
            if pipe.selector.matches(src.key):
                variables = source_variables(src.key, pipe.base_for(src.key))
                for out in pipe.outputs:
                    yield out.address, out.bucket, output_key(out.template, variables, src.key)


def template_prefix(template: str) -> str:
    """The literal start of an absolute fileid template, as a key prefix (``/thumbs/{dir}/x`` -> ``thumbs/``)."""
    literal = template.split("{", 1)[0]
    return _SLASHES.sub("/", literal).lstrip("/")


def source_prefixes(decl: Declaration) -> tuple[str, ...]:
    """The fewest prefixes of the source bucket that cover every pipeline's include globs."""
    return merge_prefixes(p for pipeline in decl.pipelines
                          for p in Selector(pipeline.source.include).list_prefixes())


def output_prefixes(decl: Declaration) -> dict[str, tuple[str, ...]]:
    """bucket -> the fewest prefixes under which the set's expected outputs fall."""
    wanted: dict[str, set[str]] = {}
    for pipeline in decl.pipelines:
        dirs = {p[: p.rfind("/") + 1] for p in Selector(pipeline.source.include).list_prefixes()}
        for output in pipeline.outputs:
            bucket = decl.output_bucket(output)
            if output.fileid.startswith("/"):
                wanted.setdefault(bucket, set()).add(template_prefix(output.fileid))
            else:  # relative: under the source's directory, which lies under the include's directory
                wanted.setdefault(bucket, set()).update(dirs)
    return {b: merge_prefixes(p) for b, p in wanted.items()}
