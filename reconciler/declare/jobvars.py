"""PURE: the output variables of CI's batch processing jobs, defined once for cosrecon (which expresses a fileid
template with them, ``apply --via batch``) and the local server (which renders them when it runs a job).

The job's ``Output/Object`` names each output key with variables of the input object. The trigger-job page
(https://www.tencentcloud.com/document/product/1045/50369) shows ``${InventoryTriggerJobId}``; CI's workflow and
job pages use ``${InputName}`` (the input's file name without its extension), ``${InputPath}`` (the input's
folder, no trailing "/") and ``${ext}`` (its extension). No stored page spells out how they behave on an object at
the bucket root: the reading chosen here is plain substitution (``${InputPath}`` is ""), and cosrecon checks
every source's rendered key against its planned key, refusing the job when one differs (docs/backfill.md).
"""

from __future__ import annotations

import re

from reconciler.declare.templates import template_variables

# cosrecon's template variable -> the job variables that spell it; {rel} and {reldir} depend on the include
# pattern's fixed directory, which a job does not know: not expressible
SPELLING = {"key": "${InputPath}/${InputName}.${ext}", "dir": "${InputPath}", "name": "${InputName}.${ext}",
            "stem": "${InputName}", "ext": "${ext}"}
_VARIABLE = re.compile(r"\$\{(InputName|InputPath|ext|InventoryTriggerJobId)\}")


class NotExpressible(ValueError):
    """A fileid template the job's output variables cannot say."""


def job_object_template(fileid_template: str) -> str:
    """The ``Output/Object`` of a job making the output ``fileid_template`` names; NotExpressible when it uses a
    variable the job does not have. A relative fileid (next to the source) is put under ``${InputPath}/``."""
    missing = [v for v in template_variables(fileid_template) if v not in SPELLING]
    if missing:
        raise NotExpressible(f"fileid {fileid_template!r} uses {{{missing[0]}}}, which CI's batch job output "
                             f"variables cannot express (they have the input's folder, name and extension only)")
    spelled = fileid_template.replace("$", "$$")  # a literal "$" stays one: format_map below leaves "$$" as "$$"
    spelled = spelled.format_map(SPELLING).replace("$$", "$")
    return spelled[1:] if spelled.startswith("/") else "${InputPath}/" + spelled


def render_job_object(template: str, input_key: str, job_id: str = "") -> str:
    """The key a job writes for the input object ``input_key`` (plain substitution; see the module's note)."""
    slash = input_key.rfind("/")
    folder, name = (input_key[:slash], input_key[slash + 1:]) if slash >= 0 else ("", input_key)
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot + 1:]) if dot > 0 else (name, "")
    values = {"InputName": stem, "InputPath": folder, "ext": ext, "InventoryTriggerJobId": job_id}
    return _VARIABLE.sub(lambda m: values[m.group(1)], template)
