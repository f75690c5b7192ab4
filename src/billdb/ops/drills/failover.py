"""`billdb drill failover`: crash the primary under write load; Patroni fails over.

A lost node (the default): SIGKILL to the primary's Patroni and postmaster, and its Patroni
program is held stopped in supervisord, as if the machine were gone, so the leader key
expires after Patroni's ttl and the synchronous standby takes over. Once the new primary
writes, the program is released: supervision runs Patroni again and it must rejoin as a
standby by itself (pg_rewind); `rejoined_s` is the time from the kill to streaming again.
`--crash`: a crashed process: the same kills, but supervision restarts Patroni at once, and
the report says whether it kept its still-valid leader key (`kept_leader`) or a standby took
over. `--postmaster-only`: Patroni survives and restarts PostgreSQL in place.

Journaled (billdb.ops.journal), one step per run, each revert-on-interrupt: the revert
releases every member's Patroni program to supervision (a node held stopped is let go), so
a drill killed mid-crash is put back by running it again; the killed run's measurement is
lost. Within a run the held node is released in a `finally` too, whatever fails in between.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.engines import patroni, process
from billdb.errors import BilldbError, StepError
from billdb.ops import journal, provision
from billdb.ops.drills import writer
from billdb.ops.status import postmaster_pid
from billdb.retry import wait_until_async
from billdb.state import cluster

Progress = Callable[[str], None]


def _member_role(ctx: Context, name: str) -> tuple[str | None, str | None]:
    m = cluster.observe(ctx).member(name)
    return (m.role.value, m.state.value) if m else (None, None)


def _whole(ctx: Context, name: str) -> bool:
    """`name` is back: streaming as a standby, or running as the leader it stayed."""
    m = cluster.observe(ctx).member(name)
    return m is not None and m.settled


def _kill(ctx: Context, n: int, old, mode: str, progress: Progress) -> None:
    paths = ctx.layout.member(old.name)
    svc = patroni.service(ctx.local, ctx.layout, old)
    pm_pid, patroni_pid = postmaster_pid(paths.data), process.running_pid(svc)
    if not pm_pid or not patroni_pid:
        raise BilldbError(f"primary {old.name} has no running postmaster/Patroni to crash")
    if mode == "postmaster-only":
        process.kill(pm_pid)
        progress(f"run {n + 1}: killed the postmaster of {old.name} (pid {pm_pid})")
        return
    if mode == "node crash":
        process.lose(svc)  # the machine is gone: supervision may not restart it yet
    else:
        process.kill(patroni_pid)
        process.kill(pm_pid)
    progress(f"run {n + 1}: killed Patroni (pid {patroni_pid}) and postmaster (pid {pm_pid}) "
             f"of primary {old.name}" + (", held stopped" if mode == "node crash" else ""))


def release_members(ctx: Context) -> str:
    """The revert: every member's Patroni program runs under supervision again (a node the
    drill held stopped is released; a running one is left as it is)."""
    started = [m.name for m in ctx.members
               if process.start(patroni.service(ctx.local, ctx.layout, m))[1]]
    return f"released {', '.join(started)} to supervision" if started \
        else "every member's Patroni was running"


async def _crash_and_measure(ctx: Context, n: int, old, mode: str, progress: Progress
                             ) -> tuple[writer.Writer, float, float | None, str | None]:
    """The crash under the writer: (writer, crash time, RTO, new leader). A node held stopped
    stays held; the caller releases it."""
    w = await writer.Writer.started(ctx.plan_path, f"failover{n}")
    t_crash = time.monotonic()
    _kill(ctx, n, old, mode, progress)
    journal.checkpoint(f"run {n + 1}:crashed")
    rto = await w.wait_new_instance(t_crash, timeout=120)
    await asyncio.sleep(0.5)  # a few more commits on the new primary
    await w.stop()
    # Writes can resume a moment before Patroni reports the restarted primary as running.
    await wait_until_async(lambda: cluster.leader_name(ctx) is not None, 30)
    new = cluster.leader_name(ctx)
    progress(f"run {n + 1}: writes resumed on {new} after "
             f"{'-' if rto is None else round(rto, 2)} s")
    return w, t_crash, rto, new


async def _one(ctx: Context, n: int, mode: str, progress: Progress) -> dict[str, Any]:
    provision.wait_replication(ctx)  # start from a healthy zone pair
    old = cluster.leader(ctx)
    svc = patroni.service(ctx.local, ctx.layout, old)
    try:
        w, t_crash, rto, new = await _crash_and_measure(ctx, n, old, mode, progress)
        missing = await w.audit()
    finally:
        t_release = time.monotonic()
        if mode == "node crash":
            process.start(svc)  # the node is back: supervision runs Patroni, which must rejoin
            progress(f"run {n + 1}: released {old.name} to supervision")

    rejoin_s = None
    rejoined = await wait_until_async(lambda: _whole(ctx, old.name), 120)
    t_back = time.monotonic()
    if mode == "node crash":
        rejoin_s = round(t_back - t_release, 2) if rejoined else None
    rejoined_s = round(t_back - t_crash, 2) if rejoined else None
    progress(f"run {n + 1}: {old.name} back ({_member_role(ctx, old.name)}): {rejoined} "
             f"({rejoined_s} s after the kill)")
    try:  # the run's figures are reported even when the cluster did not become whole
        cluster_whole = provision.wait_replication(ctx)[1]
    except StepError as exc:
        cluster_whole = None
        progress(f"run {n + 1}: {exc}")
    return {
        "rto_s": round(rto, 3) if rto is not None else None,
        "acked_commits": len(w.log.acked),
        "lost_commits": len(missing),
        "failed_commits": len(w.log.failed),
        "failures": w.log.failures(),
        "stuck": w.log.stuck,
        "old_primary": old.name,
        "new_primary": new,
        "kept_leader": new == old.name,
        "rejoined": rejoined,
        "rejoin_s": rejoin_s,
        "rejoined_s": rejoined_s,
        "cluster_whole": cluster_whole is not None,
        "mode": mode,
    }


def run(ctx: Context, repeat: int = 1, postmaster_only: bool = False,
        progress: Progress = lambda _m: None, crash: bool = False) -> dict[str, Any]:
    """`crash`: supervision restarts the killed Patroni at once (a crashed process), instead
    of the node being held down until the new primary writes (a lost node)."""
    mode = "postmaster-only" if postmaster_only else ("process crash" if crash else "node crash")

    def one(n: int) -> Callable[[journal.Journal], str]:
        def step(j: journal.Journal) -> str:
            r = asyncio.run(_one(ctx, n, mode, progress))
            j.record(runs={**j.data.get("runs", {}), str(n): r})
            return f"{r['old_primary']} -> {r['new_primary']}, {r['lost_commits']} lost"
        return step

    flag = {"postmaster-only": " --postmaster-only", "process crash": " --crash"}.get(mode, "")
    j, record = journal.run(
        journal.directory(ctx.layout.state_dir), "drill failover",
        {"mode": mode, "repeat": repeat},
        [journal.Step(f"run {n + 1}", one(n), revert=lambda _j: release_members(ctx))
         for n in range(repeat)],
        command=f"billdb drill failover{flag} --repeat {repeat}", progress=progress)
    done = j.data.get("runs", {})
    runs = [done[str(n)] for n in range(repeat) if str(n) in done]
    for r in runs:
        r["ok"] = (r["rto_s"] is not None and r["lost_commits"] == 0 and r["rejoined"]
                   and r["cluster_whole"] and not r["stuck"])
    if repeat == 1 and runs:
        return runs[0] | {"journal": record}
    rtos = [r["rto_s"] for r in runs if r["rto_s"] is not None]
    back = [r["rejoined_s"] for r in runs if r["rejoined_s"] is not None]
    return {
        "worst_rejoined_s": max(back) if back else None,
        "runs": runs,
        "median_rto_s": round(statistics.median(rtos), 3) if rtos else None,
        "worst_rto_s": max(rtos) if rtos else None,
        "lost_commits": sum(r["lost_commits"] for r in runs),
        "ok": len(runs) == repeat and all(r["ok"] for r in runs),
        "journal": record,
    }
