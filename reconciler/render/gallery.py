"""A preview as ``index.html`` (a gallery that works opened from disk) and ``preview.md`` (a table, no images).

Every key, rule and message is escaped (HTML: ``html.escape``; markdown: table-safe, control characters shown as
escapes); image paths are relative and percent-encoded, so the gallery needs no server and no network.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from reconciler.plan.samples import AddressPreview, Preview, Sample, Shot
from reconciler.render.escape import escape_text

STYLE = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:2em}"
         "td,th{border:1px solid #ccc;padding:.4em;vertical-align:top}img{max-width:320px;max-height:320px}"
         ".skip{color:#a60}.err{color:#b00}code{word-break:break-all}")


def _e(text: str) -> str:
    return html.escape(escape_text(text), quote=True)


def _md(text: str) -> str:
    return escape_text(text).replace("|", "\\|").replace("`", "'")


def _facts(shot: Shot | None) -> str:
    if shot is None:
        return "-"
    f = shot.facts
    return f"{f.width}x{f.height} {f.format}, {f.size:,} B"


def _change(sample: Sample) -> str:
    if sample.after is None or sample.before is None:
        return "-"
    delta = sample.after.facts.size - sample.before.facts.size
    pct = f" ({delta / sample.before.facts.size:+.0%})" if sample.before.facts.size else ""
    return f"{delta:+,} B{pct}"


def _img(shot: Shot | None) -> str:
    if shot is None:
        return "-"
    return f'<img src="{_e(quote(shot.path))}" alt="{_e(shot.path)}"><br>{_e(_facts(shot))}'


def _html_address(a: AddressPreview) -> list[str]:
    head = (f"<h2>{_e(a.set_name)} &middot; {_e(a.address)} ({_e(a.action)})</h2>"
            f"<p>rule <code>{_e(a.rule)}</code>; {len(a.samples)} of {a.candidates} sources sampled</p>")
    if a.skipped:
        return [head, f'<p class="skip">not processed during download: {_e(a.skipped)}</p>']
    rows = ["<table><tr><th>source</th><th>before (standing)</th><th>after (rule now)</th><th>change</th></tr>"]
    for s in a.samples:
        error = f'<br><span class="err">{_e(s.error)}</span>' if s.error else ""
        rows.append(f"<tr><td><code>{_e(s.source)}</code><br>&rarr; <code>{_e(s.output_key)}</code>{error}</td>"
                    f"<td>{_img(s.before)}</td><td>{_img(s.after)}</td><td>{_e(_change(s))}</td></tr>")
    rows.append("</table>")
    return [head, *rows]


def render_gallery(preview: Preview) -> str:
    """The gallery page: one table per output address, before and after side by side."""
    body = [line for a in preview.addresses for line in _html_address(a)] or ["<p>Nothing to create or replace.</p>"]
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cosrecon preview</title>"
            f"<style>{STYLE}</style></head><body><h1>cosrecon preview</h1>"
            f"<p>{preview.requests} processing-during-download requests, {preview.downloads} standing outputs "
            "fetched; nothing was written to any bucket.</p>\n" + "\n".join(body) + "\n</body></html>\n")


def render_preview_markdown(preview: Preview) -> str:
    """The same as a markdown table for a pull-request comment (no images inline)."""
    lines = ["| set | output | source | before | after | change |", "|---|---|---|---|---|---|"]
    skipped = []
    for a in preview.addresses:
        if a.skipped:
            skipped.append(f"- {_md(a.set_name)} `{_md(a.address)}` (`{_md(a.rule)}`): not processed during "
                           f"download: {_md(a.skipped)}")
            continue
        for s in a.samples:
            after = _facts(s.after) if s.after else f"error: {_md(s.error)}"
            lines.append(f"| {_md(a.set_name)} | {_md(a.address)} ({a.action}) | `{_md(s.source)}` | "
                         f"{_facts(s.before)} | {after} | {_change(s)} |")
    head = (f"**Preview**: {preview.requests} processing-during-download requests, {preview.downloads} standing "
            "outputs fetched; nothing written to any bucket.")
    return "\n".join([head, "", *lines, *([""] + skipped if skipped else [])]) + "\n"
