"""The same panels as `billdb report html`, as a Grafana dashboard (JSON model, schema 39),
generated from the plan for a Grafana the team already runs (Azure Managed Grafana or any
other). Not rendered here: no Grafana can be installed on this machine."""

from __future__ import annotations

from typing import Any

from billdb.monitoring import html
from billdb.plan.models import Plan

UNITS = {"backends": "short", "tx/s": "ops", "ms": "ms", "bytes": "bytes", "hours": "h"}


def _panel(i: int, title: str, expr: str, unit: str, line: float | None) -> dict[str, Any]:
    steps = [{"color": "green", "value": None}]
    if line is not None:
        steps.append({"color": "red", "value": line})
    return {
        "id": i + 1, "type": "timeseries", "title": title,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "targets": [{"refId": "A", "expr": expr, "legendFormat": "__auto"}],
        "fieldConfig": {"defaults": {
            "unit": UNITS.get(unit, "short"),
            "thresholds": {"mode": "absolute", "steps": steps},
            "custom": {"thresholdsStyle": {"mode": "dashed" if line is not None else "off"}}},
            "overrides": []},
    }


def dashboard(plan: Plan) -> dict[str, Any]:
    panels = [_panel(i, *c) for i, c in enumerate(html.charts(plan))]
    panels.append({
        "id": len(panels) + 1, "type": "alertlist", "title": "Alerts (Grafana's alert list)",
        "gridPos": {"h": 8, "w": 24, "x": 0, "y": 8 * ((len(panels) + 1) // 2)},
        "options": {"stateFilter": {"firing": True, "pending": True}, "maxItems": 20}})
    return {
        "title": f"billdb {plan.service.name}", "uid": f"billdb-{plan.service.name}"[:40],
        "schemaVersion": 39, "version": 1, "editable": True, "time": {"from": "now-6h",
                                                                      "to": "now"},
        "tags": ["billdb", "postgresql"],
        "templating": {"list": [{"name": "datasource", "type": "datasource",
                                 "query": "prometheus", "label": "Prometheus"}]},
        "panels": panels,
    }
