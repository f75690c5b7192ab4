"""`billdb report html`: one offline page (plotly.js inlined, no network) charting the last N
hours from Prometheus's query_range API and the alert log: connections against the plan's
line, transactions per second, probe p99 against the response-time line, replication lag,
backup age, and the alert timeline."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from billdb.context import Context
from billdb.engines.http import HttpError, request
from billdb.errors import BilldbError
from billdb.fsutil import write_atomic
from billdb.monitoring import receiver, stack
from billdb.plan.models import Plan


def _series(base: str, query: str, start: float, end: float, step: float) -> list[dict]:
    qs = urlencode({"query": query, "start": start, "end": end, "step": f"{step:.0f}s"})
    try:
        status, body = request("GET", f"{base}/api/v1/query_range?{qs}", timeout=30)
    except HttpError as exc:
        raise BilldbError(f"Prometheus at {base} does not answer ({exc}): run `billdb up`") \
            from None
    if status != 200:
        raise BilldbError(f"Prometheus refused {query!r}: {body}")
    return body["data"]["result"]


def charts(plan: Plan) -> list[tuple[str, str, str, float | None]]:
    """(title, PromQL, y axis, threshold line) for every chart drawn from Prometheus (the
    Grafana dashboard, monitoring/grafana.py, has the same panels)."""
    m = plan.monitoring
    return [
        ("Client connections per member", "pg_billdb_backends_client", "backends",
         float(m.connections)),
        ("Transactions per second", "sum by (member) (rate(pg_billdb_database_xact_commit[1m])"
         " + rate(pg_billdb_database_xact_rollback[1m]))", "tx/s", None),
        ("Probe latency p99", "histogram_quantile(0.99, sum by (route, le) "
         "(rate(billdb_probe_latency_seconds_bucket[1m]))) * 1000", "ms",
         float(m.response_time_ms)),
        ("Replication lag (primary's view)", "max by (member) (pg_billdb_standbys_max_lag_bytes"
         " and on(instance) pg_billdb_standbys_is_primary == 1)", "bytes",
         float(plan.read_replica.max_lag_bytes)),
        ("Backup age per repository", "billdb_backup_age_seconds / 3600", "hours", 26.0),
    ]


def _name(metric: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(metric.items())
                     if k in ("member", "route", "repo")) or "value"


def _figure(title: str, ytitle: str, result: list[dict], line: float | None,
            start: float, end: float) -> go.Figure:
    fig = go.Figure()
    for s in result:
        xs = [datetime.fromtimestamp(float(t), UTC) for t, _ in s["values"]]
        ys = [float(v) for _, v in s["values"]]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=_name(s["metric"])))
    if line is not None:
        fig.add_trace(go.Scatter(x=[datetime.fromtimestamp(start, UTC),
                                    datetime.fromtimestamp(end, UTC)], y=[line, line],
                                 mode="lines", name=f"alert at {line:g}",
                                 line={"dash": "dash", "color": "red"}))
    fig.update_xaxes(range=[datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)])
    fig.update_layout(title=title, yaxis_title=ytitle, height=320,
                      margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig


def _timeline(ctx: Context, start: float, end: float) -> go.Figure:
    since = datetime.fromtimestamp(start, UTC)
    fig = go.Figure()
    for a in receiver.summarize(receiver.read(stack.alert_log(ctx)), since):
        t0 = max(receiver.parse_ts(a["since"]), since)
        t1 = receiver.parse_ts(a["resolved"]) if a["resolved"] else datetime.fromtimestamp(end, UTC)
        label = f"{a['alertname']} ({a['severity']})"
        fig.add_trace(go.Scatter(x=[t0, t1], y=[label, label], mode="lines+markers",
                                 line={"width": 8}, name=label, showlegend=False))
    fig.update_xaxes(range=[since, datetime.fromtimestamp(end, UTC)])
    fig.update_layout(title="Alert timeline (the alert log)", height=360,
                      margin={"l": 260, "r": 20, "t": 50, "b": 40})
    return fig


def write(ctx: Context, hours: float, out: Path) -> Path:
    mon = ctx.local.monitoring
    if mon is None:
        raise BilldbError("the plan has no environments.local.monitoring")
    base = f"http://127.0.0.1:{mon.prometheus_port}"
    end = time.time()
    start = end - hours * 3600
    step = max(float(mon.scrape_interval_s), hours * 3600 / 500)
    figs = [_figure(t, y, _series(base, q, start, end, step), line, start, end)
            for t, q, y, line in charts(ctx.plan)]
    figs.append(_timeline(ctx, start, end))
    divs = "\n".join(f'<div class="chart">{f.to_html(full_html=False, include_plotlyjs=False)}'
                     "</div>" for f in figs)
    title = f"billdb: {html.escape(ctx.plan.service.name)} - last {hours:g} h"
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<script>{get_plotlyjs()}</script></head><body><h1>{title}</h1>"
            f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from {base}</p>"
            f"{divs}</body></html>")
    write_atomic(out, page, 0o644)
    return out
