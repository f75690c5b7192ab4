"""`billdb verify`'s monitoring checks: every scrape target up, every rendered rule loaded and
healthy, Alertmanager ready, the receiver answering, the monitoring role least-privileged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from billdb.context import Context
from billdb.engines.http import HttpError, request
from billdb.internal import MONITOR_USER
from billdb.monitoring import config, stack
from billdb.ops.verify.check import Check, equal
from billdb.retry import wait_until
from billdb.state import cluster

S = "§8 monitoring"


def _get(url: str) -> tuple[int | None, Any]:
    try:
        return request("GET", url, timeout=5)
    except HttpError as exc:
        return None, str(exc)


def _targets(base: str) -> list[dict]:
    status, body = _get(f"{base}/api/v1/targets?state=active")
    return body["data"]["activeTargets"] if status == 200 else []


def checks(ctx: Context) -> Iterator[Check]:
    mon = ctx.local.monitoring
    if mon is None:
        return
    base = f"http://127.0.0.1:{mon.prometheus_port}"
    # A target is "unknown" until its first scrape (~5 s after Prometheus is ready).
    wait_until(lambda: (t := _targets(base)) and all(x["health"] != "unknown" for x in t), 20)
    targets = _targets(base)
    yield Check("monitoring.prometheus.reachable", S, "targets listed",
                f"{len(targets)} targets", bool(targets))
    for t in targets:
        labels = t["labels"]
        who = labels.get("member") or labels.get("instance_name") or labels["instance"]
        yield Check(f"monitoring.target.{labels['job']}.{who}.up", S, "up",
                    t["health"] + (f" ({t['lastError']})" if t.get("lastError") else ""),
                    t["health"] == "up")
    want = len(stack.rendered_alerts(ctx))
    status, body = _get(f"{base}/api/v1/rules?type=alert")
    rules = [r for g in (body["data"]["groups"] if status == 200 else []) for r in g["rules"]]
    yield equal("monitoring.rules.loaded", S, want, len(rules))
    bad = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
    yield Check("monitoring.rules.healthy", S, "every rule evaluates",
                "; ".join(bad) or "every rule evaluates", not bad)
    status, _ = _get(f"http://127.0.0.1:{mon.alertmanager_port}/-/ready")
    yield equal("monitoring.alertmanager.reachable", S, 200, status)
    url = config.receiver_url(ctx.local)
    if mon.receiver_url is None:
        status, _ = _get(f"http://127.0.0.1:{mon.receiver_port}/healthz")
        yield equal("monitoring.receiver.reachable", S, 200, status)
    status, body = _get(f"http://127.0.0.1:{mon.alertmanager_port}/api/v2/status")
    got = (body or {}).get("config", {}).get("original", "") if status == 200 else ""
    yield Check("monitoring.alertmanager.receiver_url", S, url,
                url if url in got else "not in Alertmanager's configuration", url in got)
    with cluster.admin_connect(ctx) as conn:
        row = conn.execute(
            "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication "
            "OR r.rolbypassrls, array(SELECT b.rolname::text FROM pg_auth_members m "
            "JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) "
            "FROM pg_roles r WHERE r.rolname = %s", (MONITOR_USER,)).fetchone()
    actual = "missing" if row is None else ("privileged" if row[0] else ",".join(row[1]))
    yield equal(f"monitoring.role.{MONITOR_USER}.least_privilege", S, "pg_monitor", actual)
