"""`billdb test-plan`: the plan's §13 as one run, every figure against its plan target.

§13.1 functional (the connection as \\conninfo shows it, database size, CRUD on the config
table as the application role), §13.2 pgbench (billdb pgbench's builtin run), §13.3 a timed
switchover (billdb switchover) and a timed point-in-time restore with integrity checks
(billdb drill restore).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.engines import postgres
from billdb.operations.results import FAIL, PASS
from billdb.ops import connections

APP_ROLE = "bill_app_user"


def functional(ctx: Context) -> dict[str, Any]:
    q = sqlfiles.load
    key = f"billdb.test_plan.{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    with postgres.connect(connections.dsn(ctx, APP_ROLE), autocommit=True,
                          what=APP_ROLE) as conn:
        user, db, addr, port, ssl, ver, cipher, size = conn.execute(
            q("checklist/conninfo")).fetchone()
        conn.execute(q("checklist/crud_insert"), {"key": key, "value": "created"})
        read = conn.execute(q("checklist/crud_select"), {"key": key}).fetchone()
        updated = conn.execute(q("checklist/crud_update"), {"key": key, "value": "updated"}
                               ).rowcount
        after = conn.execute(q("checklist/crud_select"), {"key": key}).fetchone()
        deleted = conn.execute(q("checklist/crud_delete"), {"key": key}).rowcount
    crud = {"create": read == ("created",), "read": read is not None,
            "update": updated == 1 and after == ("updated",), "delete": deleted == 1}
    ok = user == APP_ROLE and bool(ssl) and ver in ("TLSv1.2", "TLSv1.3") and all(crud.values())
    return {"id": "13.1.functional", "status": PASS if ok else FAIL,
            "conninfo": {"user": user, "database": db, "server": f"{addr}:{port}", "ssl": ssl,
                         "tls_version": ver, "cipher": cipher},
            "database_bytes": size, "crud": crud, "table": ctx.plan.tests.crud_table,
            "target": f"{APP_ROLE} over TLS >= {ctx.plan.security.tls_min_version}, CRUD ok",
            "seconds": round(time.monotonic() - t0, 2)}


def performance(ctx: Context, duration_s: int) -> dict[str, Any]:
    from billdb.ops.bench import pgbench

    t = ctx.plan.tests.pgbench
    r = pgbench.run(ctx, duration_s, which="builtin")
    b = r.get("builtin", {})
    ok = bool(r["ok"])
    return {"id": "13.2.pgbench", "status": PASS if ok else FAIL,
            "scale": t.scale, "clients": t.clients, "jobs": t.jobs, "duration_s": duration_s,
            "plan_duration_s": t.duration_s, "tps": b.get("tps"),
            "latency_avg_ms": b.get("latency_avg_ms"), "failed": b.get("failed"),
            "target": "completes with no failed transaction"}


def failover(ctx: Context, progress) -> dict[str, Any]:
    from billdb.ops import switchover

    t0 = time.monotonic()
    r = switchover.switchover(ctx, progress=progress)
    target = ctx.plan.ha.failover_target_s
    gap = r.get("write_gap_s")
    ok = bool(r["ok"]) and gap is not None and gap <= target
    return {"id": "13.3.switchover", "status": PASS if ok else FAIL, "from": r.get("from"),
            "to": r.get("to"), "switch_s": r.get("switch_s"), "write_gap_s": gap,
            "failed_commits": r.get("failed_commits"), "target_s": target,
            "seconds": round(time.monotonic() - t0, 1)}


def restore(ctx: Context, progress) -> dict[str, Any]:
    from billdb.operations.weekly import record_drill
    from billdb.ops.backup import drill

    t0 = time.monotonic()
    r = drill.run(ctx, progress=progress)
    figures = {k: r.get(k) for k in ("restore_s", "offset_s", "rows_match", "amcheck_ok",
                                     "markers_restored", "ok")}
    record_drill(ctx, "restore", figures)
    rto = ctx.plan.dr.rto_min * 60
    ok = bool(r["ok"]) and r["restore_s"] <= rto
    return {"id": "13.3.pitr", "status": PASS if ok else FAIL, **figures,
            "target": f"integrity checks pass, restore within RTO {rto} s",
            "seconds": round(time.monotonic() - t0, 1)}


def run(ctx: Context, full: bool = False, duration_s: int | None = None,
        progress=lambda m: None,
        long_step: Callable[[str], AbstractContextManager[Any]] = lambda what: nullcontext(),
        ) -> dict[str, Any]:
    """`long_step(what)` wraps the pgbench run (the CLI shows a line every few seconds)."""
    duration = duration_s or (ctx.plan.tests.pgbench.duration_s if full else 30)
    results = [functional(ctx)]
    with long_step(f"§13.2 pgbench {duration} s"):
        results.append(performance(ctx, duration))
    progress("§13.3 switchover")
    results.append(failover(ctx, progress))
    progress("§13.3 point-in-time restore")
    results.append(restore(ctx, progress))
    return {"results": results, "ok": all(r["status"] == PASS for r in results)}
