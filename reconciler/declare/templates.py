"""fileid templates: which variables exist, how a template renders for a source key, and the output key that
fileid names (``output_key``). Pure.

Variables, for source ``products/shoes/red.jpg`` matched by ``products/**/*.jpg``:
``{key}`` products/shoes/red.jpg, ``{dir}`` products/shoes, ``{name}`` red.jpg, ``{stem}`` red, ``{ext}`` jpg,
``{rel}`` shoes/red.jpg and ``{reldir}`` shoes (below the include pattern's fixed directory).

COS semantics (``model.resolve_fileid``, their one definition; Pic-Operations fileid rules, zh 1045/73025 and the
seed document): a fileid with a leading ``/`` is a key from the bucket root (rule 1); a fileid equal to the source's
ObjectKey -- "object name, such as folder/sample.jpg", the full key -- overwrites the source (rule 4); otherwise it
is relative to the SOURCE OBJECT'S DIRECTORY (rule 2). Empty variables never produce ``//`` (an object at the root
has ``{dir}`` ""). The fileid is sent URL-encoded; these functions work on the decoded text.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model import resolve_fileid

VARIABLES = ("key", "dir", "name", "stem", "ext", "rel", "reldir")
_SLASHES = re.compile(r"/{2,}")


class TemplateError(ValueError):
    """A template that cannot be used (unknown variable, bad braces)."""


def template_variables(template: str) -> list[str]:
    """The variable names a template uses, in order. Raises TemplateError on malformed braces."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"malformed template {template!r}: {exc}") from exc
    names = []
    for _, field_name, spec, conv in parsed:
        if field_name is None:
            continue
        if field_name == "" or spec or conv:
            raise TemplateError(f"malformed placeholder in {template!r}: use {{name}} with no format spec")
        names.append(field_name)
    return names


def unknown_variables(template: str) -> list[str]:
    return [v for v in template_variables(template) if v not in VARIABLES]


def source_variables(key: str, base: str = "") -> dict[str, str]:
    """The template variables of one source key; ``base`` is the include pattern's fixed directory."""
    slash = key.rfind("/")
    name = key[slash + 1:]
    dot = name.rfind(".")
    rel = key[len(base):] if base and key.startswith(base) else key
    rslash = rel.rfind("/")
    return {"key": key, "dir": key[:slash] if slash > 0 else "", "name": name,
            "stem": name[:dot] if dot > 0 else name, "ext": name[dot + 1:] if dot > 0 else "", "rel": rel,
            "reldir": rel[:rslash] if rslash > 0 else ""}


def render_fileid(template: str, variables: Mapping[str, str]) -> str:
    """The fileid to send in Pic-Operations for a source's ``variables``: runs of "/" made one, a leading "/" only
    when the template has one (absolute)."""
    fileid = template.format_map(variables)
    if "//" in fileid:
        fileid = _SLASHES.sub("/", fileid)
    if template[:1] != "/" and fileid[:1] == "/":
        fileid = fileid.lstrip("/")
    return fileid


def output_key(template: str, variables: Mapping[str, str], source_key: str) -> str:
    """The key of the output ``template`` names for ``source_key`` (whose template variables are ``variables``)."""
    return resolve_fileid(source_key, render_fileid(template, variables))


@dataclass(frozen=True)
class FileidTemplate:
    """A compiled fileid template."""

    text: str

    @property
    def absolute(self) -> bool:
        return self.text.startswith("/")

    def render(self, variables: dict[str, str]) -> str:
        """The fileid to send in Pic-Operations (COS form: leading "/" when absolute)."""
        return render_fileid(self.text, variables)


def key_problem(key: str) -> str | None:
    """Why an output key is unusable, or None: empty, ``..`` or ``.`` segments, empty segments, trailing ``/``."""
    if not key:
        return "renders to an empty key"
    if key.endswith("/"):
        return f"renders to {key!r}, which ends with '/'"
    for segment in key.split("/"):
        if segment in ("..", "."):
            return f"renders to {key!r}, which has a '{segment}' segment (keys must not escape)"
        if segment == "":
            return f"renders to {key!r}, which has an empty segment"
    return None
