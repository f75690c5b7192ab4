"""Backup health for `status` and `backup schedule`: last backups, archiver, scheduler."""

from __future__ import annotations

from typing import Any

from billdb.context import Context
from billdb.engines import process
from billdb.errors import BilldbError
from billdb.ops.backup import common, dumps, physical, services
from billdb.ops.scheduler import runner
from billdb.state import archiver as archiver_state
from billdb.state import cluster
from billdb.state.archiver import ArchiverState


def scheduler_state(ctx: Context) -> dict[str, Any]:
    svc = services.scheduler(ctx)
    pid = process.running_pid(svc)
    return {"state": "running" if pid else "stopped", "pid": pid, "log": str(svc.logfile)}


def schedule(ctx: Context) -> dict[str, Any]:
    records = runner.read_state(common.paths(ctx).scheduler_state).get("jobs", {})
    jobs = []
    for j in runner.next_runs(ctx):
        rec = records.get(j["job"], {})
        jobs.append(j | {k: rec.get(k) for k in ("last_start", "last_end", "last_ok",
                                                  "last_detail", "runs")})
    return {"timezone": ctx.plan.backup.schedule.timezone, "jobs": jobs,
            "scheduler": scheduler_state(ctx)}


def archiver(ctx: Context) -> ArchiverState:
    with cluster.admin_connect(ctx) as conn:
        return archiver_state.read(conn)


def status_section(ctx: Context) -> dict[str, Any]:
    """What `billdb status` shows about backups; errors become a message, never a crash."""
    out: dict[str, Any] = {"scheduler": scheduler_state(ctx)}
    try:
        listing = physical.listing(ctx)
        last: dict[str, Any] = {}
        for b in listing["backups"]:
            last[f"repo{b['repo']}"] = {k: b[k] for k in ("label", "type", "stop")}
            if b["type"] == "full":
                last[f"repo{b['repo']}_full"] = b["label"]
        out.update({"stanza": listing["stanza"], "stanza_status": listing["status"],
                    "last_backups": last})
    except BilldbError as exc:
        out["stanza_status"] = str(exc)
    try:
        arch = archiver(ctx)
        out["archiver"] = {"last_archived_wal": arch.last_archived_wal,
                           "last_archived_time": arch.last_archived_time,
                           "failed_count": arch.failed_count,
                           "last_failed_time": arch.last_failed_time, "healthy": arch.healthy}
    except BilldbError as exc:
        out["archiver"] = str(exc)
    d = dumps.listing(ctx)["dumps"]
    out["last_dump"] = d[-1]["created_at"] if d else None
    out["restored_copies"] = services.restored_names(ctx)
    return out
