"""Every read of Prometheus goes through here (the monitoring stack is issue 10).

Where Prometheus is: $BILLDB_PROMETHEUS_URL, else the environment's own Prometheus
(`environments.local.monitoring.prometheus_port`, docs/monitoring.md). With neither, or when it
does not answer, `peak` returns None and the checklist item says "monitoring not configured":
it never fakes a figure.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from datetime import UTC, datetime, timedelta

from billdb.context import Context
from billdb.engines.http import HttpError, request

NOT_CONFIGURED = "monitoring not configured"


def base_url(ctx: Context) -> str | None:
    url = os.environ.get("BILLDB_PROMETHEUS_URL")
    mon = ctx.local.monitoring
    if not url and mon is not None:
        url = f"http://127.0.0.1:{mon.prometheus_port}"
    return url.rstrip("/") if url else None


def query(ctx: Context, promql: str) -> list[dict] | None:
    """An instant query (/api/v1/query); None when Prometheus is absent or errs."""
    url = base_url(ctx)
    if not url:
        return None
    try:
        status, body = request("GET", f"{url}/api/v1/query?"
                               + urllib.parse.urlencode({"query": promql}), timeout=5)
    except HttpError:
        return None
    if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
        return None
    return body.get("data", {}).get("result", [])


def peak(ctx: Context, promql: str, hours: float) -> float | None:
    """The highest value of `promql` over the last `hours` (max_over_time of a subquery,
    sampled every 30 s: right for rates and ratios, which are smooth already)."""
    return _scalar(query(ctx, f"max(max_over_time(({promql})[{int(hours * 3600)}s:30s]))"))


def highest(ctx: Context, selector: str, hours: float) -> float | None:
    """The highest scraped sample of a plain series selector over the last `hours`: a
    spike shorter than a subquery step still counts (the connections held for a minute)."""
    return _scalar(query(ctx, f"max(max_over_time({selector}[{int(hours * 3600)}s]))"))


def peak_at(ctx: Context, promql: str, hours: float, points: int = 720
            ) -> tuple[float, datetime] | None:
    """(highest value, when) of `promql` over the last `hours`, from a range query with about
    `points` steps; None without Prometheus or samples."""
    url = base_url(ctx)
    if not url:
        return None
    end = datetime.now(UTC)
    step = max(15, int(hours * 3600 / points))
    args = {"query": promql, "start": (end - timedelta(hours=hours)).timestamp(),
            "end": end.timestamp(), "step": step}
    try:
        status, body = request("GET", f"{url}/api/v1/query_range?"
                               + urllib.parse.urlencode(args), timeout=10)
    except HttpError:
        return None
    if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
        return None
    best: tuple[float, datetime] | None = None
    for series in body.get("data", {}).get("result", []):
        for ts, raw in series.get("values", []):
            value = float(raw)
            if not math.isnan(value) and (best is None or value > best[0]):
                best = (value, datetime.fromtimestamp(float(ts), UTC))
    return best


def now_value(ctx: Context, promql: str) -> float | None:
    return _scalar(query(ctx, f"max({promql})"))


def _scalar(result: list[dict] | None) -> float | None:
    if not result:
        return None
    try:
        value = float(result[0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return None if math.isnan(value) else value  # no samples to judge: not a figure
