"""Plotly figures for the report sections. Every figure gets a title, both axis titles and the unit.

Labels come from the workspace (source names, actors, discard reasons): plotly renders a subset of HTML inside
text, so each label is HTML-escaped before it reaches a figure.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import plotly.graph_objects as go

OTHER = "all other"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans CJK JP', sans-serif"


def _label(text: Any) -> str:
    return html.escape(str(text), quote=False)


def figure(title: str, x_title: str, y_title: str, traces: Iterable[Any], barmode: Optional[str] = None,
           height: int = 380, legend_title: Optional[str] = None) -> go.Figure:
    fig = go.Figure(list(traces))
    fig.update_layout(
        title={"text": _label(title), "x": 0.01, "xanchor": "left"},
        xaxis_title=_label(x_title),
        yaxis_title=_label(y_title),
        barmode=barmode,
        height=height,
        template="plotly_white",
        font={"family": FONT, "size": 12},
        margin={"l": 70, "r": 20, "t": 60, "b": 60},
        legend={"title": {"text": _label(legend_title)} if legend_title else None, "font": {"size": 11}},
        hovermode="closest",
    )
    return fig


def _grouped(rows: Sequence[Dict[str, Any]], x: str, series: str, y: str, top_n: int) -> Tuple[List[Any], Dict[str, Dict[Any, float]]]:
    """x values and series -> {x: y}, keeping the `top_n` series by total and folding the rest into one."""
    totals: Dict[str, float] = defaultdict(float)
    for row in rows:
        totals[row[series]] += float(row[y] or 0)
    keep = {name for name, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]}
    data: Dict[str, Dict[Any, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        name = row[series] if row[series] in keep else OTHER
        data[name][row[x]] += float(row[y] or 0)
    order = sorted(data, key=lambda name: (name == OTHER, -sum(data[name].values()), name))
    xs = sorted({row[x] for row in rows})
    return xs, {name: data[name] for name in order}


def stacked_bars(rows, x, series, y, title, x_title, y_title, top_n=8, legend_title=None, unit=""):
    xs, data = _grouped(rows, x, series, y, top_n)
    traces = [
        go.Bar(name=_label(name), x=xs, y=[values.get(v, 0) for v in xs],
               hovertemplate=f"%{{x}}<br>{_label(name)}: %{{y:,}}{unit}<extra></extra>")
        for name, values in data.items()
    ]
    return figure(title, x_title, y_title, traces, barmode="stack", legend_title=legend_title)


def lines(rows, x, series, y, title, x_title, y_title, top_n=8, legend_title=None, unit=""):
    xs, data = _grouped(rows, x, series, y, top_n)
    traces = [
        go.Scatter(name=_label(name), x=xs, y=[values.get(v, 0) for v in xs], mode="lines",
                   hovertemplate=f"%{{x}}<br>{_label(name)}: %{{y:,}}{unit}<extra></extra>")
        for name, values in data.items()
    ]
    return figure(title, x_title, y_title, traces, legend_title=legend_title)


def horizontal_bars(labels: Sequence[Any], values: Sequence[float], title: str, x_title: str, y_title: str) -> go.Figure:
    trace = go.Bar(x=list(values)[::-1], y=[_label(v) for v in labels][::-1], orientation="h",
                   hovertemplate="%{y}: %{x:,}<extra></extra>", marker_color="#636efa")
    fig = figure(title, x_title, y_title, [trace], height=max(260, 60 + 28 * len(labels)))
    if values and max(values) <= 10:  # small counts: whole-number ticks, not 0.5 steps
        fig.update_xaxes(tick0=0, dtick=1)
    return fig


def durations(syncs: Sequence[Dict[str, Any]], long_minutes: int, title: str) -> go.Figure:
    by_warehouse: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for row in syncs:
        by_warehouse[row["warehouse"]].append(row)
    traces: List[Any] = [
        go.Scatter(name=_label(name), x=[r["started"] for r in rows], y=[r["minutes"] for r in rows], mode="markers",
                   text=[_label(f"{r['source']} · {r['status']}") for r in rows],
                   hovertemplate="%{x}<br>%{text}<br>%{y:.1f} min<extra></extra>")
        for name, rows in sorted(by_warehouse.items())
    ]
    fig = figure(title, "Sync start (UTC)", "Duration (minutes)", traces, legend_title="Warehouse")
    fig.add_hline(y=long_minutes, line_dash="dash", line_color="#d62728",
                  annotation_text=f"long: over {long_minutes} min", annotation_position="top left")
    return fig


def axis_titles(fig: go.Figure) -> Dict[str, str]:
    layout = fig.layout
    return {
        "title": layout.title.text or "",
        "x": layout.xaxis.title.text or "",
        "y": layout.yaxis.title.text or "",
    }
