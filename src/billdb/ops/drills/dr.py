"""`billdb drill dr`: the plan's region failure (§9.2 scenario 2), for real.

Both zone members crash (Patroni and postmaster, SIGKILL). The read replica in the other
region is then allowed to lead: synchronous mode is switched off (a non-synchronous standby
may only be promoted without it) and the replica's `nofailover` tag is lifted. Patroni
promotes it once the dead leader's key expires. The application's write route is repointed
to it, and the report says honestly what the asynchronous replica had not received.
`billdb dr rebuild` brings the zone pair back around it and fails back to a zone.

Journaled (billdb.ops.journal): `region failover` (revert on interrupt) then `repoint route`
(resume). The writer's measurement cannot survive a kill: a rerun deletes the killed writer's
rows (the revert), then finishes the failover, measured again only if the zone pair still led
(the kill came before the crash); otherwise unmeasured, saying so (`measured: false`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.engines import patroni, process
from billdb.engines.patroni import PatroniAPI
from billdb.errors import BilldbError
from billdb.fsutil import write_atomic
from billdb.ops import journal, provision
from billdb.ops.drills import writer
from billdb.retry import wait_until_async
from billdb.state import cluster

Progress = Callable[[str], None]


def promote_replica(ctx: Context, replica_name: str, old_primary: str) -> None:
    """Let the read replica lead: no synchronous mode, no nofailover tag."""
    replica = ctx.member(replica_name)
    PatroniAPI(replica).patch_config({"synchronous_mode": False})
    write_atomic(ctx.layout.dr_file, json.dumps({
        "promoted": replica_name, "old_primary": old_primary,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }) + "\n", 0o644)
    provision.write_member_configs(ctx)  # rewrites the replica's tags and reloads it


def _crash_zones(ctx: Context) -> list[str]:
    zones = [m for m in ctx.members if m.kind == "zone"]
    for z in zones:  # the region is gone: supervision must not bring it back
        process.lose(patroni.service(ctx.local, ctx.layout, z))
    return [z.name for z in zones]


async def _wait_leader(ctx: Context, name: str, timeout: float) -> bool:
    return await wait_until_async(lambda: cluster.leader_name(ctx) == name, timeout, 0.2)


async def _fail_over(ctx: Context, d: dict[str, Any], measured: bool,
                     progress: Progress) -> dict[str, Any]:
    """Crash the zones (again: a no-op when dead), let the replica lead, wait for it."""
    w = await writer.Writer.started(ctx.plan_path, "dr") if measured else None
    journal.checkpoint("region failover:writing")
    t_crash = time.monotonic()
    zones = _crash_zones(ctx)
    progress(f"region lost: killed Patroni and PostgreSQL of {', '.join(zones)}")
    promote_replica(ctx, d["replica"], d["old_primary"])
    progress(f"{d['replica']} may now lead; waiting for the dead leader's key to expire")
    promoted = await _wait_leader(ctx, d["replica"], 90)
    promote_s = time.monotonic() - t_crash
    progress(f"{d['replica']} promoted: {promoted} ({promote_s:.1f} s)")
    if promoted:
        provision.ensure_routes(ctx)  # repoint the application's write route
        progress("application write route repointed")
    out: dict[str, Any] = {"promoted": promoted, "promote_s": round(promote_s, 3),
                           "measured": w is not None, "rto_s": None, "acked_commits": None,
                           "lost_commits": None, "lost_request_ids": []}
    if w is None:
        return out
    rto = await w.wait_new_instance(t_crash, timeout=60) if promoted else None
    await asyncio.sleep(0.5)
    await w.stop()
    missing = await w.audit() if promoted else []
    return out | {"rto_s": round(rto, 3) if rto is not None else None,
                  "acked_commits": len(w.log.acked), "lost_commits": len(missing),
                  "lost_request_ids": missing[:20], "stuck": w.log.stuck}


def _prepare(ctx: Context) -> dict[str, Any]:
    if provision.dr_state(ctx):
        raise BilldbError("a region failover is already in effect: run `billdb dr rebuild` first")
    replicas = [m for m in ctx.members if m.kind == "replica"]
    if not replicas:
        raise BilldbError("the plan has no read replica member to promote")
    provision.wait_replication(ctx)
    return {"replica": replicas[0].name, "old_primary": cluster.leader(ctx).name}


def _region_failover(ctx: Context, j: journal.Journal, progress: Progress) -> str:
    d = j.data
    measured = cluster.leader_name(ctx) == d["old_primary"] and not provision.dr_state(ctx)
    if not measured:
        progress("the zone pair was already lost by the interrupted run: finishing the "
                 "failover unmeasured")
    j.record(result=asyncio.run(_fail_over(ctx, d, measured, progress)))
    if not j.data["result"]["promoted"]:
        raise BilldbError(f"{d['replica']} was not promoted within 90 s")
    return f"{d['replica']} leads"


def run(ctx: Context, progress: Progress = lambda _m: None) -> dict[str, Any]:
    def discard(j: journal.Journal) -> str:
        j.record(discard=True)  # done by `repoint route`, once the replica leads
        return "the killed run's measurement is lost; its writer rows are deleted once the "\
            "replica leads"

    def route(j: journal.Journal) -> str:
        provision.ensure_routes(ctx)
        n = writer.discard_interrupted(ctx, "dr") if j.data.get("discard") else 0
        return "application write route points at the promoted replica" + (
            f"; {n} rows of the killed writer deleted" if n else "")

    j, record = journal.run(
        journal.directory(ctx.layout.state_dir), "drill dr", {},
        [journal.Step("region failover", lambda j: _region_failover(ctx, j, progress),
                      revert=discard),
         journal.Step("repoint route", route)],
        command="billdb drill dr", prepare=lambda: _prepare(ctx), progress=progress)
    r = j.data["result"]
    return {
        "rto_s": r["rto_s"],
        "promote_s": r["promote_s"],
        "acked_commits": r["acked_commits"],
        "lost_commits": r["lost_commits"],
        "lost_request_ids": r["lost_request_ids"],
        "promoted": j.data["replica"],
        "old_primary": j.data["old_primary"],
        "replication": "asynchronous: commits acknowledged by the zone pair but not yet "
                       "received by the replica are lost",
        "next": "billdb dr rebuild",
        "measured": r["measured"],
        "stuck": r.get("stuck", 0),
        "ok": (r["rto_s"] is not None or not r["measured"]) and not r.get("stuck"),
        "journal": record,
    }
