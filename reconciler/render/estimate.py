"""The plan estimate (``plan.estimate``) as text lines, markdown and JSON data. Always labelled an estimate.

Set names, buckets and key prefixes are user data: the text lines are escaped by the text renderer they join
(``render_text``), markdown cells here (``escape.escape_text``, and ``|``), JSON is exact."""

from __future__ import annotations

from typing import Any

from reconciler.model import ActionKind
from reconciler.plan.estimate import GB, LONG_RUN, BlastRadius, Estimate, Fee, SetEstimate
from reconciler.render.escape import escape_text

ITEM_NAMES = {
    "basic_processing_per_gb": ("basic image processing", "GB of sources"),
    "advanced_compression_per_1000": ("advanced compression (TPG/HEIF/AVIF)", "thousand conversions"),
    "ai_processing_per_1000": ("AI image processing", "thousand calls"),
    "cos_requests_per_10000": ("COS requests", "ten-thousand requests"),
    "storage_per_gb_month": ("storage added", "GB-months"),
}


def _bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit, size in (("GB", GB), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} B"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "no calls"
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.4f} {currency}" if amount < 1 else f"{amount:,.2f} {currency}"


def _fee(fee: Fee, currency: str) -> str:
    name, unit = ITEM_NAMES[fee.item]
    if fee.quantity is None:
        return f"{name} unknown (source sizes unknown)"
    amount = "not priced" if fee.amount is None else _money(fee.amount, currency)
    return f"{name} {amount} ({fee.quantity:,.4g} {unit})"


def _blast(blast: BlastRadius) -> list[str]:
    lines = []
    for bucket, prefixes in blast.prefixes.items():
        shown = ", ".join(f"{p} ({n})" for p, n in sorted(prefixes.items(), key=lambda kv: (-kv[1], kv[0]))[:5])
        more = len(prefixes) - 5
        lines.append(f"{bucket}: {shown}" + (f" and {more} more prefixes" if more > 0 else ""))
    if blast.largest_group:
        address, action, count = blast.largest_group
        lines.append(f"largest group: {count} to {action} in {address}")
    lines.append(f"{blast.overwrites_source} outputs overwrite their source" if blast.overwrites_source
                 else "no output overwrites its source")
    return lines


def _set_lines(s: SetEstimate, est: Estimate) -> list[str]:
    w = s.work
    currency = s.currency
    counts = ", ".join(f"{w.outputs.get(k, 0)} to {k.value}" for k in (ActionKind.CREATE, ActionKind.REPLACE,
                                                                      ActionKind.DELETE))
    lines = [f"set {s.name}: {w.calls} image_process calls; {counts}; {_bytes(w.source_bytes)} of sources processed",
             f"  time: about {_duration(s.seconds)} at the configured pace "
             f"({_duration(s.seconds_at_ci_limit)} at CI's rate limit)"]
    if s.fees:
        lines.append(f"  fees ({s.table} prices): " + "; ".join(_fee(f, currency) for f in s.fees))
    lines.append("  storage added: unknown (source sizes unknown)" if s.storage_added_bytes is None else
                 f"  storage added: about {_bytes(s.storage_added_bytes)} ({est.ratio_source} output/source ratio)")
    lines.extend(("  blast radius: " if i == 0 else "    ") + line for i, line in enumerate(_blast(s.blast)))
    return lines


def _totals(est: Estimate) -> str:
    return " + ".join(_money(amount, currency) for currency, amount in sorted(est.totals.items())) or "0"


def _total(est: Estimate) -> str:
    unpriced = f"; not priced: {', '.join(ITEM_NAMES[i][0] for i in est.unpriced)}" if est.unpriced else ""
    return (f"total: {est.calls} calls, about {_duration(est.seconds if est.calls else None)}, "
            f"{_totals(est)} for the priced items{unpriced}")


def estimate_lines(est: Estimate) -> list[str]:
    """The estimate for a terminal: a header saying what it rests on, a block per set with work, then the total."""
    lines = [f"Estimate (list prices from the {est.prices_source}, before free tiers and resource packs):"]
    for s in est.sets:
        if s.work.calls or s.work.deleted:
            lines.extend("  " + line for line in _set_lines(s, est))
    lines.append("  " + _total(est))
    lines.extend("  " + line for line in pace_notes(est))
    return lines


def pace_notes(est: Estimate) -> list[str]:
    """What the pace rests on for a long plan: the headroom left to uploads, the hours at CI's cap, and that a CI
    batch job shares the same limit (docs/backfill.md)."""
    notes = []
    if est.headroom:
        notes.append(f"pace: {est.pace_qps:g} calls/s, leaving {est.ci_limit - est.pace_qps:g}/s of CI's "
                     f"{est.ci_limit}/s to uploads with Pic-Operations (a run over an hour; --max-qps overrides)")
    at_cap = est.calls / est.ci_limit if est.ci_limit else 0.0
    if at_cap > LONG_RUN:
        notes.append(f"at CI's cap of {est.ci_limit}/s the calls alone take {at_cap / 3600:.1f} h; CI's batch "
                     f"processing jobs share the same limit (no runner has to stay up, but they are no faster); "
                     f"--max-duration runs it in slices (docs/backfill.md)")
    return notes


def _cell(text: str) -> str:
    return escape_text(text).replace("|", "\\|")


def render_estimate_markdown(est: Estimate) -> str:
    """The estimate as a markdown table for the pull-request comment."""
    rows = ["| set | calls | create / replace / delete | sources | time | priced fees | storage added |",
            "|---|---:|---|---:|---:|---:|---:|"]
    for s in est.sets:
        w = s.work
        rows.append(f"| {_cell(s.name)} | {w.calls} | {w.outputs.get(ActionKind.CREATE, 0)} / "
                    f"{w.outputs.get(ActionKind.REPLACE, 0)} / {w.outputs.get(ActionKind.DELETE, 0)} | "
                    f"{_bytes(w.source_bytes)} | {_duration(s.seconds)} | {_money(s.priced_total, s.currency)} | "
                    f"{_bytes(s.storage_added_bytes)} |")
    notes = [f"**Estimate** (list prices from the {est.prices_source}, before free tiers; "
             f"{est.ratio_source} output/source size ratio). {_total(est)}."]
    for s in est.sets:
        if s.work.calls or s.work.deleted:
            notes.append(_cell(f"- {s.name} blast radius: " + "; ".join(_blast(s.blast))))
    return "\n".join(notes[:1] + [""] + rows + [""] + notes[1:]) + "\n"


def estimate_data(est: Estimate) -> dict[str, Any]:
    """The estimate as JSON data (``estimate`` in schemas/plan.schema.json)."""
    return {
        "prices_source": est.prices_source, "ratio_source": est.ratio_source, "unpriced": list(est.unpriced),
        "calls": est.calls, "seconds": round(est.seconds, 3), "seconds_at_ci_limit": round(est.seconds_at_ci_limit, 3),
        "priced_totals": {c: round(a, 6) for c, a in sorted(est.totals.items())},
        "storage_added_bytes": est.storage_added_bytes,
        "sets": [{
            "name": s.name, "currency": s.currency, "table": s.table, "calls": s.work.calls,
            "outputs": {k.value: n for k, n in s.work.outputs.items()},
            "source_bytes": s.work.source_bytes,
            "seconds": None if s.seconds is None else round(s.seconds, 3),
            "seconds_at_ci_limit": None if s.seconds_at_ci_limit is None else round(s.seconds_at_ci_limit, 3),
            "fees": [{"item": f.item, "quantity": None if f.quantity is None else round(f.quantity, 9),
                      "amount": f.amount} for f in s.fees],
            "priced_total": round(s.priced_total, 6),
            "storage_added_bytes": s.storage_added_bytes,
            "blast_radius": {"prefixes": {b: dict(p) for b, p in s.blast.prefixes.items()},
                             "largest_group": None if s.blast.largest_group is None else {
                                 "address": s.blast.largest_group[0], "action": s.blast.largest_group[1],
                                 "count": s.blast.largest_group[2]},
                             "overwrites_source": s.blast.overwrites_source},
        } for s in est.sets],
    }
