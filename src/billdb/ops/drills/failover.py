"""`billdb drill failover`: crash the primary under write load; Patroni fails over.

The whole node is crashed (SIGKILL to its Patroni and its postmaster), so the leader key
expires after Patroni's ttl and the synchronous standby takes over. With `--postmaster-only`
Patroni survives and restarts PostgreSQL in place. Then the crashed node's Patroni is started
again, as a rebooted machine would, and must rejoin as a standby by itself (pg_rewind).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.engines import patroni, process
from billdb.errors import BilldbError
from billdb.ops import cluster, provision
from billdb.ops.drills import writer
from billdb.ops.status import postmaster_pid

Progress = Callable[[str], None]


def _member_role(ctx: Context, name: str) -> tuple[str | None, str | None]:
    body = cluster.patroni_cluster(ctx) or {}
    for m in body.get("members", []):
        if m["name"] == name:
            return m.get("role"), m.get("state")
    return None, None


async def _wait(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


async def _one(ctx: Context, n: int, postmaster_only: bool, progress: Progress) -> dict[str, Any]:
    provision.wait_replication(ctx)  # start from a healthy zone pair
    old = cluster.leader(ctx)
    paths = ctx.layout.member(old.name)
    svc = patroni.service(ctx.local, ctx.layout, old)
    pm_pid, patroni_pid = postmaster_pid(paths.data), process.running_pid(svc)
    if not pm_pid or not patroni_pid:
        raise BilldbError(f"primary {old.name} has no running postmaster/Patroni to crash")
    w = await writer.Writer.started(ctx.plan_path, f"failover{n}")

    t_crash = time.monotonic()
    if postmaster_only:
        process.kill(pm_pid)
        progress(f"run {n + 1}: killed the postmaster of {old.name} (pid {pm_pid})")
    else:
        process.kill(patroni_pid)
        process.kill(pm_pid)
        progress(f"run {n + 1}: killed Patroni (pid {patroni_pid}) and postmaster (pid {pm_pid}) "
                 f"of primary {old.name}")
    rto = await w.wait_new_instance(t_crash, timeout=120)
    await asyncio.sleep(0.5)  # a few more commits on the new primary
    await w.stop()
    # Writes can resume a moment before Patroni reports the restarted primary as running.
    await _wait(lambda: cluster.leader_name(ctx) is not None, 30)
    new = cluster.leader_name(ctx)
    progress(f"run {n + 1}: writes resumed on {new} after "
             f"{'-' if rto is None else round(rto, 2)} s")

    missing = await w.audit()

    rejoined, rejoin_s = False, None
    t_restart = time.monotonic()
    if postmaster_only:
        rejoined = new == old.name
    else:
        process.start(svc)  # the node "reboots": Patroni comes back and must rejoin by itself
        rejoined = await _wait(lambda: _member_role(ctx, old.name) in (
            ("replica", "streaming"), ("sync_standby", "streaming")), 120)
        rejoin_s = round(time.monotonic() - t_restart, 2) if rejoined else None
        progress(f"run {n + 1}: {old.name} rejoined as a standby: {rejoined} ({rejoin_s} s)")
    provision.wait_replication(ctx)
    return {
        "rto_s": round(rto, 3) if rto is not None else None,
        "acked_commits": len(w.log.acked),
        "lost_commits": len(missing),
        "failed_commits": len(w.log.failed),
        "failures": w.log.failures(),
        "old_primary": old.name,
        "new_primary": new,
        "rejoined": rejoined,
        "rejoin_s": rejoin_s,
        "mode": "postmaster-only" if postmaster_only else "node crash",
    }


def run(ctx: Context, repeat: int = 1, postmaster_only: bool = False,
        progress: Progress = lambda _m: None) -> dict[str, Any]:
    runs = [asyncio.run(_one(ctx, n, postmaster_only, progress)) for n in range(repeat)]
    for r in runs:
        r["ok"] = r["rto_s"] is not None and r["lost_commits"] == 0 and r["rejoined"]
    if repeat == 1:
        return runs[0]
    rtos = [r["rto_s"] for r in runs if r["rto_s"] is not None]
    return {
        "runs": runs,
        "median_rto_s": round(statistics.median(rtos), 3) if rtos else None,
        "worst_rto_s": max(rtos) if rtos else None,
        "lost_commits": sum(r["lost_commits"] for r in runs),
        "ok": all(r["ok"] for r in runs),
    }
