"""`billdb switchover`: a planned switch inside the zone pair, done by Patroni, measured by a
writer on the application route (the plan's §13.3 "planned failover test").

Journaled (billdb.ops.journal): the leader and the candidate are chosen once, when the journal
opens; then `switch` (revert on interrupt) and `rejoin` (resume). A rerun after a kill in the
middle of `switch` must not ask Patroni again blindly (from the new leader that would switch
back), and the killed run's measurement cannot be resumed: so it reverts (the killed writer's
rows are deleted, its measurement is reported lost), then switches only if the old leader still
leads; if the switch had happened, it says so and reports no write gap (`measured: false`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.engines.http import HttpError
from billdb.engines.patroni import PatroniAPI
from billdb.errors import BilldbError
from billdb.ops import journal, provision
from billdb.ops.drills import writer
from billdb.state import cluster


def choose_candidate(ctx: Context, leader: str, to: str | None) -> str:
    """The target: `to` if it is a healthy zone standby, else the synchronous standby."""
    state = cluster.observe(ctx)
    zones = {m.name for m in ctx.members if m.kind == "zone"}
    if to is not None:
        ctx.member(to)  # raises a clear error for an unknown name
        if to == leader:
            raise BilldbError(f"{to} is already the primary")
        if to not in zones:
            raise BilldbError(f"{to} is the read replica of another region: a switchover stays "
                              f"inside the zone pair ({', '.join(sorted(zones))})")
        return to
    sync = [m.name for m in state.with_role(cluster.Role.SYNC_STANDBY) if m.name in zones]
    if not sync:
        raise BilldbError("no synchronous standby to switch over to (see `billdb status`)")
    return sync[0]


async def _measure(ctx: Context, leader: str, candidate: str,
                   progress: Callable[[str], None]) -> dict[str, Any]:
    w = await writer.Writer.started(ctx.plan_path, "switchover")
    journal.checkpoint("switch:writing")
    t0 = time.monotonic()
    try:
        await asyncio.to_thread(PatroniAPI(ctx.member(leader), timeout=60).switchover,
                                leader, candidate)
    except HttpError as exc:
        await w.stop()
        await w.audit()
        raise BilldbError(f"Patroni refused the switchover: {exc.body or exc}") from None
    switch_s = time.monotonic() - t0
    progress(f"Patroni switched {leader} -> {candidate} in {switch_s:.2f} s")
    gap = await w.wait_new_instance(t0, timeout=30)
    await asyncio.sleep(0.5)
    await w.stop()
    missing = await w.audit()
    return {
        "from": leader,
        "to": cluster.leader_name(ctx),
        "switch_s": round(switch_s, 3),
        "write_gap_s": round(gap, 3) if gap is not None else None,
        "acked_commits": len(w.log.acked),
        "lost_commits": len(missing),
        "failed_commits": len(w.log.failed),
        "failures": w.log.failures(),
        "stuck": w.log.stuck,
    }


def _switch(ctx: Context, j: journal.Journal, progress: Callable[[str], None]) -> str:
    leader, candidate = j.data["from"], j.data["candidate"]
    now = cluster.leader_name(ctx)
    if now == candidate:
        j.record(report={"from": leader, "to": now, "switch_s": None, "write_gap_s": None,
                         "acked_commits": None, "lost_commits": None, "failed_commits": None,
                         "failures": {}, "measured": False,
                         "note": "switched by a run that was killed; its measurement is lost"})
        return f"{candidate} already leads (switched by the interrupted run)"
    if now != leader:
        raise BilldbError(f"the primary is {now}, neither {leader} nor {candidate}: "
                          "check `billdb status`")
    report = asyncio.run(_measure(ctx, leader, candidate, progress))
    j.record(report=report | {"measured": True})
    return f"{leader} -> {report['to']}"


def _discard(ctx: Context) -> str:
    n = writer.discard_interrupted(ctx, "switchover")
    return f"the killed run's measurement is lost; {n} of its writer rows deleted"


def switchover(ctx: Context, to: str | None = None,
               progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    def prepare() -> dict[str, Any]:
        provision.wait_replication(ctx)
        leader = cluster.leader(ctx).name
        return {"from": leader, "candidate": choose_candidate(ctx, leader, to)}

    def rejoin(_j: journal.Journal) -> str:
        return provision.wait_replication(ctx)[1]  # the old primary streams again

    j, record = journal.run(
        journal.directory(ctx.layout.state_dir), "switchover", {"to": to},
        [journal.Step("switch", lambda j: _switch(ctx, j, progress),
                      revert=lambda _j: _discard(ctx)),
         journal.Step("rejoin", rejoin)],
        command="billdb switchover" + (f" --to {to}" if to else ""), prepare=prepare,
        progress=progress)
    report = dict(j.data["report"])
    candidate = j.data["candidate"]
    report["to"] = cluster.leader_name(ctx)
    report["ok"] = report["to"] == candidate and not report.get("stuck") and (
        report["write_gap_s"] is not None or not report["measured"])
    return report | {"journal": record}
