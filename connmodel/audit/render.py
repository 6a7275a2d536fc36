"""The audit report as JSON (for machines), Markdown (for chat or a ticket) and HTML (one
self-contained file: Bokeh's JavaScript inlined, no CDN, opens offline).

Every piece of user text (profile names, accounts, reasons, actors) is escaped for the format it
lands in. Nothing here reads the database: it renders an `AuditReport`.
"""

import html
import json
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from connmodel.audit.report import SECTIONS, AuditReport, Finding

if TYPE_CHECKING:
    from bokeh.model import Model

SCHEMA = "connmodel.audit/1"
CHART_TITLES = {
    "status_by_profile": "Status by profile",
    "status_over_time": "Status over time (check history)",
    "expiry_timeline": "Expiry timeline",
}


def inline_bokeh() -> str:
    """BokehJS as inline <script> tags only (the core bundle is enough).

    `Resources.render()` also emits the `js_files` that other imported extensions register
    (Panel adds a `<script src=static/...>` shim once it is imported in the same process), which
    would not load from a file opened offline; the raw scripts are all the charts need.
    """
    from bokeh.resources import Resources

    bundle = Resources(mode="inline", components=["bokeh"])
    return "".join(f"<script>{js}</script>" for js in bundle.js_raw)


NOTHING = "Nothing to report: the database holds no profiles and no connections yet."
# The page loads nothing: every script and style is inline, images only as data: URLs.
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'unsafe-inline'; img-src data:; font-src data:")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(
        frame.to_json(orient="records", date_format="iso", date_unit="s"))
    return records


def to_document(report: AuditReport, *, failing: list[Finding] | None = None) -> dict[str, Any]:
    """The report as the `connmodel.audit/1` JSON document (connmodel.audit.schema)."""
    return {
        "schema": SCHEMA,
        "generated_at": report.generated_at.isoformat(),
        "database": report.database,
        "parameters": {"days": report.days, "hours": report.hours,
                       "environment": report.environment, "limit": report.limit},
        "empty": report.empty,
        "summary": {
            "connections": dict(zip(report.totals["status"],
                                    (int(n) for n in report.totals["connections"]), strict=True)),
            "findings": dict(report.counts),
        },
        "failing": [f.value for f in failing or []],
        "sections": {s.key: {"title": s.title, "rows": _records(report.tables[s.key]),
                             "truncated": report.truncated(s)}
                     for s in SECTIONS},
        "charts": {k: _records(v) for k, v in report.charts.items()},
        "recommendations": [{"command": r.command, "why": r.why}
                            for r in report.recommendations],
    }


def to_json(report: AuditReport, *, failing: list[Finding] | None = None) -> str:
    return json.dumps(to_document(report, failing=failing), indent=2, ensure_ascii=False)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def md_escape(value: object) -> str:
    """Text that Markdown shows literally: specials backslashed, < > & as entities, one line."""
    text = "–" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    if isinstance(value, pd.Timestamp):
        text = value.strftime("%Y-%m-%d %H:%M")
    text = html.escape(" ".join(text.split()), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_table(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["None."]
    lines = ["| " + " | ".join(md_escape(c) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(md_escape(v) for v in row) + " |")
    return lines


def _summary_rows(report: AuditReport) -> list[tuple[str, str]]:
    live = ", ".join(f"{s} {int(n):,}" for s, n in
                     zip(report.totals["status"], report.totals["connections"], strict=True))
    labels = {
        "error": "Connections in Error",
        "stale": f"Stale: never used or not used in {report.days} days",
        "expiring": f"Expiring within {report.days} days, or expired but Active",
        "unused_profiles": "Unused profiles",
        "mixed_environments": "Provider configs shared across environments",
        "unchecked_production": f"Production profiles not checked in {report.hours} h",
    }
    return [("Live connections", live)] + [
        (label, f"{report.counts[key]:,}") for key, label in labels.items()]


def _heading(report: AuditReport) -> str:
    env = f", environment {report.environment}" if report.environment else ""
    return (f"generated {report.generated_at:%Y-%m-%d %H:%M} UTC on {report.database}; "
            f"window {report.days} days, production checks within {report.hours} h{env}")


def to_markdown(report: AuditReport, *, failing: list[Finding] | None = None) -> str:
    out = ["# Connections audit", "", md_escape(_heading(report)), ""]
    if report.empty:
        return "\n".join([*out, NOTHING, ""])
    if failing:
        out += ["**Failing:** " + ", ".join(f.value for f in failing), ""]
    out += ["| Finding | Count |", "|---|---|"]
    out += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in _summary_rows(report)]
    for s in SECTIONS:
        out += ["", f"## {s.title}", "", md_escape(s.why), "", *_md_table(report.tables[s.key])]
    out += ["", "## Recommended actions", ""]
    out += [f"- `{r.command.replace('`', '')}`: {md_escape(r.why)}"
            for r in report.recommendations] or ["None."]
    return "\n".join([*out, ""])


def _html_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p class='none'>None.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return "–" if pd.isna(value) else value.strftime("%Y-%m-%d %H:%M")
    if value is None or (not isinstance(value, str | list) and pd.isna(value)):
        return "–"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#212121;max-width:1100px}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f5f5f5} .none{color:#757575} .failing{color:#c62828;font-weight:600}
code{background:#f5f5f5;padding:.1rem .3rem} h2{margin-top:2rem}
"""


def to_html(report: AuditReport, *, failing: list[Finding] | None = None) -> str:
    """One file: inline Bokeh resources, the charts, the tables and the recommended commands.

    Bokeh is imported here, not with the module: Markdown and JSON reports never load it."""
    from bokeh.embed import components

    from connmodel.audit import charts

    parts = [f"<h1>Connections audit</h1><p>{html.escape(_heading(report))}</p>"]
    script = ""
    if report.empty:
        parts.append(f"<p class='none' id='nothing'>{html.escape(NOTHING)}</p>")
    else:
        if failing:
            parts.append("<p class='failing'>Failing: "
                         + html.escape(", ".join(f.value for f in failing)) + "</p>")
        parts.append(_html_table(pd.DataFrame(_summary_rows(report),
                                              columns=["Finding", "Count"])))
        figures = {k: make(report.charts[k]) for k, make in charts.CHARTS.items()}
        figures["error_rate_by_provider"] = charts.error_rate_by_provider(
            report.tables["error_rate_by_provider"])
        drawn: dict[str, Model] = {k: f for k, f in figures.items() if f is not None}
        script, divs = components(drawn) if drawn else ("", {})
        for key, title in {**CHART_TITLES, "error_rate_by_provider": "Errors per provider"}.items():
            body = divs.get(key, "<p class='none'>No data in the window.</p>")
            parts.append(f"<h2>{html.escape(title)}</h2>{body}")
        for s in SECTIONS:
            parts.append(f"<h2>{html.escape(s.title)}</h2><p>{html.escape(s.why)}</p>"
                         + _html_table(report.tables[s.key]))
        items = "".join(f"<li><code>{html.escape(r.command)}</code>: {html.escape(r.why)}</li>"
                        for r in report.recommendations)
        parts.append("<h2>Recommended actions</h2>"
                     + (f"<ul>{items}</ul>" if items else "<p class='none'>None.</p>"))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            "<title>Connections audit</title>" + inline_bokeh()
            + f"<style>{STYLE}</style></head><body>" + "".join(parts) + script
            + "</body></html>")


RENDERERS = {"json": to_json, "markdown": to_markdown, "html": to_html}
