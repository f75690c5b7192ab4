"""`billdb drill dcs`: the consensus store goes away while a writer commits through the
application route (issue 22).

- `--freeze` (default): every etcd member stopped with SIGSTOP for N seconds, then resumed:
  the store hangs as a stalled disk or network would leave it. Patroni's failsafe mode keeps
  the primary, which still reaches every member. Goal: no write gap over 5 s, 0 lost.
- `--kill`: the etcd member that leads the raft group is killed (SIGKILL); supervision brings
  it back and the other two keep the quorum. Goal: no write gap over 1 s, 0 lost.

Either way the store and the cluster must be whole again by themselves, with no command.
Journaled: a drill killed mid-fault is reverted by running it again (every etcd member is
resumed and started); its measurement is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.engines import etcd, process
from billdb.errors import StepError
from billdb.ops import journal, provision
from billdb.ops.drills import writer
from billdb.retry import wait_until_async
from billdb.state import cluster

Progress = Callable[[str], None]
GOAL_GAP_S = {"freeze": 5.0, "kill": 1.0}
WHOLE_S = 90


def _pids(ctx: Context) -> dict[str, int]:
    return {m.name: pid for m in etcd.members(ctx.local, ctx.layout)
            if (pid := process.running_pid(etcd.service(ctx.local, ctx.layout, m)))}


def resume_all(ctx: Context) -> str:
    """The revert: every etcd member resumed (SIGCONT) and running."""
    for pid in _pids(ctx).values():
        os.kill(pid, signal.SIGCONT)
    for svc in etcd.services(ctx.local, ctx.layout):
        process.start(svc)
    return "every etcd member resumed and running"


async def _fault(ctx: Context, mode: str, seconds: float, progress: Progress) -> dict[str, Any]:
    if mode == "freeze":
        pids = _pids(ctx)
        for pid in pids.values():
            os.kill(pid, signal.SIGSTOP)
        progress(f"etcd frozen: {', '.join(pids)} (SIGSTOP) for {seconds:g} s")
        try:
            await asyncio.sleep(seconds)
        finally:
            for pid in pids.values():
                os.kill(pid, signal.SIGCONT)
        progress("etcd resumed (SIGCONT)")
        return {"frozen": sorted(pids)}
    target = etcd.raft_leader(ctx.local, ctx.layout) or etcd.members(ctx.local, ctx.layout)[0]
    pid = process.running_pid(etcd.service(ctx.local, ctx.layout, target))
    if pid:
        os.kill(pid, signal.SIGKILL)
    progress(f"etcd member {target.name} (the raft leader, pid {pid}) killed; writing for "
             f"{seconds:g} s")
    await asyncio.sleep(seconds)
    return {"killed": target.name}


async def _measure(ctx: Context, mode: str, seconds: float, progress: Progress
                   ) -> dict[str, Any]:
    leader = cluster.leader_name(ctx)
    w = await writer.Writer.started(ctx.plan_path, "dcs")
    journal.checkpoint("fault:writing")
    await asyncio.sleep(1.0)
    t0 = time.monotonic()
    try:
        fault = await _fault(ctx, mode, seconds, progress)
    finally:
        t1 = time.monotonic()
    whole = await wait_until_async(lambda: len([m for m in etcd.members(ctx.local, ctx.layout)
                                                if etcd.member_healthy(m)])
                                   == ctx.local.etcd.members, WHOLE_S, 0.5)
    whole_s = round(time.monotonic() - t1, 1)
    progress(f"etcd whole again: {whole} ({whole_s} s after the fault ended)")
    await asyncio.sleep(2.0)
    t_end = time.monotonic()
    await w.stop()
    missing = await w.audit()
    gap = w.log.longest_gap(t0 - 0.5, t_end)
    return {"mode": mode, "seconds": seconds, **fault,
            "longest_write_gap_s": round(gap, 3) if gap is not None else None,
            "goal_gap_s": GOAL_GAP_S[mode], "acked_commits": len(w.log.acked),
            "lost_commits": len(missing), "failed_commits": len(w.log.failed),
            "failures": w.log.failures(), "stuck": w.log.stuck,
            "etcd_whole": whole, "etcd_whole_s": whole_s, "leader_before": leader}


def run(ctx: Context, mode: str, seconds: float, progress: Progress = lambda _m: None
        ) -> dict[str, Any]:
    def fault(j: journal.Journal) -> str:
        j.record(report=asyncio.run(_measure(ctx, mode, seconds, progress)))
        return f"{mode} for {seconds:g} s measured"

    j, record = journal.run(
        journal.directory(ctx.layout.state_dir), "drill dcs", {"mode": mode,
                                                               "seconds": seconds},
        [journal.Step("fault", fault, revert=lambda _j: resume_all(ctx))],
        command=f"billdb drill dcs --{mode} --seconds {seconds:g}", progress=progress)
    report = dict(j.data.get("report") or {"mode": mode, "measured": False})
    try:
        report["cluster"] = provision.wait_replication(ctx)[1]
        ok_cluster = True
    except StepError as exc:
        report["cluster"], ok_cluster = str(exc), False
    report["cluster_whole"] = ok_cluster
    report["leader_after"] = cluster.leader_name(ctx)
    gap = report.get("longest_write_gap_s")
    report["ok"] = bool(report.get("etcd_whole") and ok_cluster and gap is not None
                        and gap <= GOAL_GAP_S[mode] and report.get("lost_commits") == 0
                        and not report.get("stuck"))
    return report | {"journal": record}
