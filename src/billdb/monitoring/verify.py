"""`billdb verify`'s monitoring checks: every scrape target up, every rendered rule loaded and
healthy (monitoring.resource), Alertmanager ready, the receiver answering, the monitoring role
least-privileged."""

from __future__ import annotations

from collections.abc import Iterator

from billdb.context import Context
from billdb.internal import MONITOR_USER
from billdb.monitoring import config, resource
from billdb.ops.verify.check import Check, equal
from billdb.state import cluster

S = "§8 monitoring"


def checks(ctx: Context) -> Iterator[Check]:
    mon = ctx.local.monitoring
    if mon is None:
        return
    yield from resource.checks(resource.desired(ctx), resource.observe(mon.prometheus_port))
    status, _ = resource.get(f"http://127.0.0.1:{mon.alertmanager_port}/-/ready")
    yield equal("monitoring.alertmanager.reachable", S, 200, status)
    url = config.receiver_url(ctx.local)
    if mon.receiver_url is None:
        status, _ = resource.get(f"http://127.0.0.1:{mon.receiver_port}/healthz")
        yield equal("monitoring.receiver.reachable", S, 200, status)
    status, body = resource.get(f"http://127.0.0.1:{mon.alertmanager_port}/api/v2/status")
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
