"""fileid templates: which variables exist, how a template renders for a source key, and how COS resolves
the rendered fileid to an output key. Pure.

Variables, for source ``products/shoes/red.jpg`` matched by ``products/**/*.jpg``:
``{key}`` products/shoes/red.jpg, ``{dir}`` products/shoes, ``{name}`` red.jpg, ``{stem}`` red, ``{ext}`` jpg,
``{rel}`` shoes/red.jpg and ``{reldir}`` shoes (below the include pattern's fixed directory).

COS semantics (Pic-Operations fileid rules, zh 1045/73025 and the seed document): a fileid with a leading ``/``
is a key from the bucket root (rule 1); a fileid equal to the source's ObjectKey -- "object name, such as
folder/sample.jpg", the full key -- overwrites the source (rule 4); otherwise it is relative to the SOURCE
OBJECT'S DIRECTORY (rule 2). Empty variables never produce ``//`` (an object at the root has ``{dir}`` "").
The fileid is sent URL-encoded; these functions work on the decoded text.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

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
    directory, name = (key[:slash], key[slash + 1 :]) if slash >= 0 else ("", key)
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot + 1 :]) if dot > 0 else (name, "")
    rel = key[len(base) :] if base and key.startswith(base) else key
    rslash = rel.rfind("/")
    return {
        "key": key,
        "dir": directory,
        "name": name,
        "stem": stem,
        "ext": ext,
        "rel": rel,
        "reldir": rel[:rslash] if rslash >= 0 else "",
    }


@dataclass(frozen=True)
class FileidTemplate:
    """A compiled fileid template."""

    text: str

    @property
    def absolute(self) -> bool:
        return self.text.startswith("/")

    def render(self, variables: dict[str, str]) -> str:
        """The fileid to send in Pic-Operations (COS form: leading "/" when absolute)."""
        rendered = self.text.format_map(variables)
        if "//" in rendered:
            rendered = _SLASHES.sub("/", rendered)
        if not self.absolute:
            rendered = rendered.lstrip("/")
        return rendered


def resolve_fileid(source_key: str, fileid: str) -> str:
    """The output key COS writes for ``fileid`` processed from ``source_key`` (COS's documented rules 1, 4, 2)."""
    if fileid.startswith("/"):
        return fileid.lstrip("/")
    if fileid == source_key:
        return source_key  # rule 4: "to overwrite the original image, set fileid to <ObjectKey>"
    slash = source_key.rfind("/")
    return fileid if slash < 0 else source_key[: slash + 1] + fileid


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
