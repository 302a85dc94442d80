"""The HTML page: one file, plotly.js inlined once (opens offline, no CDN), every workspace string escaped.

The page also carries its key figures as JSON (`<script type="application/json" id="report-data">`), so tests and
scripts read the numbers the page shows without scraping charts.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any, Dict, List, Sequence, Tuple

import plotly
import plotly.graph_objects as go
import plotly.offline

from . import charts
from .queries import DESTINATION_STAGES, Section

Block = str
TOP_ROWS = 20
RECENT_DAYS = 90  # a year of daily lines per source is unreadable; the totals still cover the whole window


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return _e(value.strftime("%Y-%m-%d %H:%M"))
    return _e(value)


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else _e(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str, numeric: Sequence[int] = ()) -> Block:
    if not rows:
        return f'<p class="empty">{_e(caption)}: none.</p>'
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{_num(v) if i in numeric else _cell(v)}</td>' for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kpis(items: Sequence[Tuple[str, Any]]) -> Block:
    return '<div class="kpis">' + "".join(
        f'<div class="kpi"><div class="kpi-value">{_num(v)}</div><div class="kpi-label">{_e(k)}</div></div>' for k, v in items
    ) + "</div>"


class Page:
    def __init__(self) -> None:
        self.figures: List[Dict[str, str]] = []

    def chart(self, fig: Any) -> Block:
        self.figures.append(charts.axis_titles(fig))
        div = fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                          config={"displaylogo": False, "responsive": True})
        return f'<div class="chart">{div}</div>'


def _month(d: dt.date) -> str:
    return d.strftime("%Y-%m")


# --------------------------------------------------------------------------------------------------- sections
def cost(page: Page, d: Dict[str, Any], out: Dict[str, Any]) -> List[Block]:
    blocks: List[Block] = []
    for metric, label, unit in (("mtu", "MTU", "users"), ("api_calls", "API calls", "calls")):
        rows = d.get(metric)
        if not rows:
            continue
        rows = [dict(r, month=_month(r["month"])) for r in rows]
        blocks.append(page.chart(charts.stacked_bars(
            rows, "month", "source", "value", f"{label} per month by source (current month to date)",
            "Month (UTC)", f"{label} ({unit})", legend_title="Source", unit=f" {unit}")))
        by_month: Dict[str, int] = {}
        for r in rows:
            by_month[r["month"]] = by_month.get(r["month"], 0) + int(r["value"])
        out[f"{metric}_by_month"] = by_month
    if d.get("top"):
        top = d["top"]
        metric = top[0]["metric"]
        label = "MTU" if metric == "mtu" else "API calls"
        month, before = top[0]["month"], top[0]["month_before"]
        blocks.append(table(
            ["Source", f"{label} {_month(month)}", f"{label} {_month(before) if before else '(no earlier month)'}", "Change (%)",
             f"API calls {_month(month)}"],
            [[t["source"], t.get(f"{metric}_last"), t.get(f"{metric}_before"), t["change_pct"], t.get("api_calls_last")] for t in top],
            f"Top sources by {label} in the last complete month ({_month(month)}), with the month before",
            numeric=(1, 2, 3, 4)))
        out["top_sources"] = [{"source_id": t["source_id"], "value": t.get(f"{metric}_last"), "metric": metric, "month": _month(month)} for t in top]
    ws = d.get("workspace", {})
    if ws:
        out["workspace"] = {m: {_month(k): v for k, v in sorted(vals.items())} for m, vals in ws.items()}
    return blocks


def volume(page: Page, d: Dict[str, Any], out: Dict[str, Any]) -> List[Block]:
    total = sum(r["events"] for r in d["by_source"])
    start, end = d["window"]
    blocks = [
        kpis([("events in the synced window", total), ("sources sending events", len({r["source_id"] for r in d["by_source"] if r["events"]})),
              (f"silent sources (no events {start} – {end})", len(d["silent"]))]),
        page.chart(charts.lines([r for r in d["by_source"] if r["day"] > end - dt.timedelta(days=RECENT_DAYS)], "day", "source", "events",
                                f"Daily event volume by source (last {RECENT_DAYS} days)", "Day (UTC)",
                                "Events per day (events)", legend_title="Source", unit=" events")),
        page.chart(charts.stacked_bars(d["by_type"], "day", "event_type", "events", "Daily event volume by event type",
                                       "Day (UTC)", "Events per day (events)", legend_title="Event type", unit=" events")),
        table(["Source", "Source id", "Last day with events"], [[r["source"], r["source_id"], r["last_seen"] or "never"] for r in d["silent"]],
              f"Sources that went silent: no events from {start} to {end}"),
    ]
    by_type: Dict[str, int] = {}
    for r in d["by_type"]:
        by_type[r["event_type"]] = by_type.get(r["event_type"], 0) + r["events"]
    out.update(total_events=total, by_type=by_type, silent_sources=[r["source_id"] for r in d["silent"]],
               window=[str(start), str(end)])
    return blocks


def delivery(page: Page, d: Dict[str, Any], out: Dict[str, Any]) -> List[Block]:
    blocks: List[Block] = []
    ov = d.get("overview")
    if ov:
        discard = [r for r in ov["by_stage"] if r["stage"] in ("failed_on_ingest", "filtered_at_source", "filtered_at_destination", "failed_delivery")]
        blocks.append("<h3>Event delivery (delivery overview)</h3>")
        blocks.append(page.chart(charts.stacked_bars(discard, "day", "stage", "events", "Events lost per day by pipeline stage",
                                                     "Day (UTC)", "Events per day (events)", legend_title="Stage", unit=" events")))
        blocks.append(page.chart(charts.lines(ov["failed_by_destination"], "day", "destination", "events",
                                              "Failed deliveries per day by destination", "Day (UTC)", "Failed deliveries per day (events)",
                                              legend_title="Destination", unit=" events")))
        if ov["reasons"]:
            blocks.append(page.chart(charts.horizontal_bars([r["reason"] for r in ov["reasons"]], [r["events"] for r in ov["reasons"]],
                                                            "Top discard reasons", "Events discarded (events)", "Discard reason")))
        blocks.append(table(["Destination", "Delivered", "Filtered at destination", "Failed delivery", "Failure rate (%)"],
                            [[r["destination"], r["successful_delivery"], r["filtered_at_destination"], r["failed_delivery"], r["failure_rate_pct"]]
                             for r in ov["per_destination"][:TOP_ROWS]],
                            f"Delivery per destination over the synced window (top {TOP_ROWS} of {len(ov['per_destination'])} by failed deliveries)",
                            numeric=(1, 2, 3, 4)))
        stages: Dict[str, int] = {}
        for r in ov["by_stage"]:
            stages[r["stage"]] = stages.get(r["stage"], 0) + r["events"]
        out["stages"] = stages
        out["per_destination"] = {r["destination_id"]: {k: r[k] for k in DESTINATION_STAGES} for r in ov["per_destination"]}
        out["reasons"] = {r["reason"]: r["events"] for r in ov["reasons"]}
    wh = d.get("warehouse")
    if wh:
        blocks.append("<h3>Warehouse syncs</h3>")
        blocks.append(kpis([("syncs", len(wh["syncs"])), ("failed or partial", len(wh["failed"])), (f"longer than {wh['long_minutes']} min", len(wh["long"]))]))
        blocks.append(page.chart(charts.stacked_bars(wh["by_status"], "day", "status", "syncs", "Warehouse syncs per day by status",
                                                     "Day (UTC)", "Syncs per day (syncs)", legend_title="Status", unit=" syncs")))
        blocks.append(page.chart(charts.durations(wh["syncs"], wh["long_minutes"], "Warehouse sync durations")))
        blocks.append(table(["Started (UTC)", "Warehouse", "Source", "Status", "Duration (min)", "Notice"],
                            [[r["started"], r["warehouse"], r["source"], r["status"], r["minutes"], r["notice"]] for r in wh["failed"][:25]],
                            "Failed or partially failed warehouse syncs (latest 25)", numeric=(4,)))
        blocks.append(table(["Started (UTC)", "Warehouse", "Source", "Status", "Duration (min)"],
                            [[r["started"], r["warehouse"], r["source"], r["status"], r["minutes"]] for r in wh["long"][:25]],
                            f"Warehouse syncs that ran longer than {wh['long_minutes']} minutes (latest 25)", numeric=(4,)))
        out["warehouse"] = {"syncs": len(wh["syncs"]), "failed": len(wh["failed"]), "long": len(wh["long"])}
    retl = d.get("reverse_etl")
    if retl:
        blocks.append("<h3>Reverse ETL syncs</h3>")
        blocks.append(page.chart(charts.stacked_bars(retl["by_status"], "day", "status", "syncs", "Reverse ETL syncs per day by status",
                                                     "Day (UTC)", "Syncs per day (syncs)", legend_title="Status", unit=" syncs")))
        blocks.append(table(["Started (UTC)", "Model", "Status", "Error code", "Error"],
                            [[r["started"], r["model"], r["status"], r["error_code"], r["error"]] for r in retl["failed"][:25]],
                            "Failed reverse ETL syncs (latest 25)"))
        out["reverse_etl"] = {"syncs": sum(r["syncs"] for r in retl["by_status"]), "failed": len(retl["failed"])}
    return blocks


def governance(page: Page, d: Dict[str, Any], out: Dict[str, Any]) -> List[Block]:
    blocks: List[Block] = []
    if "audit_by_type" in d:
        for by, legend in (("type", "Event type"), ("actor", "Actor")):
            blocks.append(page.chart(charts.stacked_bars(d[f"audit_by_{by}"], "week", by, "events", f"Audit events per week by {by}",
                                                         "Week starting (UTC)", "Audit events per week (events)", legend_title=legend, unit=" events")))
        blocks.append(table(["Actor", "Audit events"], [[a["actor"], a["events"]] for a in d["audit_actors"][:15]],
                            "Most active actors (top 15)", numeric=(1,)))
        out["audit_actors"] = {a["actor"]: a["events"] for a in d["audit_actors"]}
    if "disabled_destinations" in d:
        rows = d["disabled_destinations"]
        blocks.append(table(["Destination", "Type", "Source"], [[r["name"], r["type"], r["source"]] for r in rows], "Disabled destinations"))
        out["disabled_destinations"] = [r["id"] for r in rows]
    if "untracked_sources" in d:
        rows = d["untracked_sources"]
        blocks.append(table(["Source", "Enabled"], [[r["name"], "yes" if r["enabled"] else "no"] for r in rows],
                            "Sources without a tracking plan"))
        out["untracked_sources"] = [r["id"] for r in rows]
    if "users" in d:
        u = d["users"]
        blocks.append(kpis([("users", u["users"]), ("roles defined", u["roles_defined"]), ("users with permissions synced", u["with_permissions"])]))
        if u["roles"]:
            blocks.append(page.chart(charts.horizontal_bars([r["role"] for r in u["roles"]], [r["users"] for r in u["roles"]],
                                                            "Users per role", "Users (people)", "Role")))
        out["users"] = {"users": u["users"], "roles": {r["role"]: r["users"] for r in u["roles"]}}
    return blocks


def inventory(page: Page, d: Dict[str, Any], out: Dict[str, Any]) -> List[Block]:
    blocks: List[Block] = []
    if "counts" in d:
        counts = d["counts"]
        blocks.append(kpis([(c["kind"].lower(), c["total"]) for c in counts]))
        enabled = [c["enabled"] if c["enabled"] is not None else c["total"] for c in counts]
        disabled = [c["total"] - e for c, e in zip(counts, enabled)]
        kinds = [c["kind"] for c in counts]
        fig = charts.figure("Resources in the workspace", "Resource kind", "Count (resources)", [
            go.Bar(name="enabled (or no enabled flag)", x=kinds, y=enabled, hovertemplate="%{x}: %{y} enabled<extra></extra>"),
            go.Bar(name="disabled", x=kinds, y=disabled, hovertemplate="%{x}: %{y} disabled<extra></extra>"),
        ], barmode="stack")
        blocks.append(page.chart(fig))
        out["counts"] = {c["stream"]: c["total"] for c in counts}
        out["enabled"] = {c["stream"]: c["enabled"] for c in counts if c["enabled"] is not None}
    if d.get("source_labels"):
        labels = d["source_labels"]
        blocks.append(page.chart(charts.horizontal_bars([r["label"] for r in labels[:20]], [r["sources"] for r in labels[:20]],
                                                        "Sources per label (top 20)", "Sources (sources)", "Label (key: value)")))
        out["source_labels"] = {r["label"]: r["sources"] for r in labels}
    if "labels_defined" in d:
        out["labels_defined"] = d["labels_defined"]
    return blocks


RENDERERS = {"cost": cost, "volume": volume, "delivery": delivery, "governance": governance, "inventory": inventory}

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK JP',sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#1f2933;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:22px}header p{margin:2px 0;color:#cbd2d9;font-size:13px}
nav{padding:8px 32px;background:#e4e7eb;font-size:14px}nav a{margin-right:16px;color:#1f2933}
main{padding:8px 32px 40px;max-width:1280px}section{background:#fff;border-radius:8px;padding:8px 20px 16px;margin:16px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:19px;border-bottom:1px solid #e4e7eb;padding-bottom:6px}h3{font-size:16px;margin-top:22px}
.note{background:#fffbea;border-left:4px solid #f0b429;padding:6px 10px;font-size:13px;margin:6px 0}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0}.kpi{background:#f0f4f8;border-radius:6px;padding:8px 14px;min-width:120px}
.kpi-value{font-size:20px;font-weight:600}.kpi-label{font-size:12px;color:#52606d}
table{border-collapse:collapse;margin:12px 0;font-size:13px;width:100%}caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 8px;text-align:left;vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#52606d;font-size:13px}.chart{margin:8px 0}footer{color:#7b8794;font-size:12px;padding:0 32px 24px}
"""


def page(sections: Sequence[Section], meta: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """The HTML text and the summary it embeds."""
    p = Page()
    summary: Dict[str, Any] = {"meta": meta, "notes": {}}
    body: List[str] = []
    for s in sections:
        blocks: List[Block] = []
        if s.data:  # each renderer fills its section's key figures into the summary
            summary[s.key] = {}
            blocks = RENDERERS[s.key](p, s.data, summary[s.key])
        summary["notes"][s.key] = s.notes
        notes = "".join(f'<p class="note">{_e(n)}</p>' for n in s.notes)
        if not blocks:
            notes += '<p class="note">Nothing to show in this section.</p>' if not s.notes else ""
        body.append(f'<section id="{s.key}"><h2>{_e(s.title)}</h2>{notes}{"".join(blocks)}</section>')
    summary["charts"] = p.figures
    data = json.dumps(summary, default=str, ensure_ascii=False).replace("</", "<\\/")
    nav = "".join(f'<a href="#{s.key}">{_e(s.title.split(":")[0])}</a>' for s in sections)
    title = f"Segment workspace health: {meta.get('workspace') or 'workspace'}"
    html_text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head><body>
<header><h1>{_e(title)}</h1>
<p>Data as of {_e(meta.get('as_of'))} (UTC) · synced from {_e(meta.get('origin'))} · generated {_e(meta.get('generated'))} · plotly {_e(plotly.__version__)}</p></header>
<nav>{nav}</nav><main>{''.join(body)}</main>
<footer>Counts come from the connector's streams in the DuckDB cache {_e(meta.get('cache'))}. MTU = identified + never-identified users (Segment counts each user once); a month's figure is its latest daily snapshot.</footer>
<script type="application/json" id="report-data">{data}</script>
</body></html>
"""
    return html_text, summary
