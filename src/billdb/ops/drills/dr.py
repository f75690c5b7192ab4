"""`billdb drill dr`: the plan's region failure (§9.2 scenario 2), for real.

Both zone members crash (Patroni and postmaster, SIGKILL). The read replica in the other
region is then allowed to lead: synchronous mode is switched off (a non-synchronous standby
may only be promoted without it) and the replica's `nofailover` tag is lifted. Patroni
promotes it once the dead leader's key expires. The application's write route is repointed
to it, and the report says honestly what the asynchronous replica had not received.
`billdb dr rebuild` brings the zone pair back around it and fails back to a zone.
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
from billdb.ops import cluster, provision
from billdb.ops.drills import writer
from billdb.ops.status import postmaster_pid

Progress = Callable[[str], None]


def promote_replica(ctx: Context, replica_name: str, old_primary: str) -> None:
    """Let the read replica lead: no synchronous mode, no nofailover tag."""
    replica = ctx.member(replica_name)
    PatroniAPI(replica).patch_config({"synchronous_mode": False})
    ctx.layout.dr_file.write_text(json.dumps({
        "promoted": replica_name, "old_primary": old_primary,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }) + "\n", encoding="utf-8")
    provision.write_member_configs(ctx)  # rewrites the replica's tags and reloads it


async def _drill(ctx: Context, progress: Progress) -> dict[str, Any]:
    provision.wait_replication(ctx)
    replicas = [m for m in ctx.members if m.kind == "replica"]
    if not replicas:
        raise BilldbError("the plan has no read replica member to promote")
    replica = replicas[0]
    old = cluster.leader(ctx)
    zones = [m for m in ctx.members if m.kind == "zone"]
    w = await writer.Writer.started(ctx.plan_path, "dr")

    t_crash = time.monotonic()
    for z in zones:
        svc = patroni.service(ctx.local, ctx.layout, z)
        for pid in (process.running_pid(svc), postmaster_pid(ctx.layout.member(z.name).data)):
            if pid:
                process.kill(pid)
        process.hold(svc)  # the region is gone: supervision must not bring it back
    progress(f"region lost: killed Patroni and PostgreSQL of {', '.join(z.name for z in zones)}")

    promote_replica(ctx, replica.name, old.name)
    progress(f"{replica.name} may now lead; waiting for the dead leader's key to expire")
    deadline = time.monotonic() + 90
    while cluster.leader_name(ctx) != replica.name and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    promoted = cluster.leader_name(ctx) == replica.name
    promote_s = time.monotonic() - t_crash
    progress(f"{replica.name} promoted: {promoted} ({promote_s:.1f} s)")
    if promoted:
        provision.ensure_routes(ctx)  # repoint the application's write route
        progress("application write route repointed")
    rto = await w.wait_new_instance(t_crash, timeout=60) if promoted else None
    await asyncio.sleep(0.5)
    await w.stop()
    missing = await w.audit() if promoted else []
    return {
        "rto_s": round(rto, 3) if rto is not None else None,
        "promote_s": round(promote_s, 3),
        "acked_commits": len(w.log.acked),
        "lost_commits": len(missing),
        "lost_request_ids": missing[:20],
        "promoted": replica.name if promoted else None,
        "old_primary": old.name,
        "replication": "asynchronous: commits acknowledged by the zone pair but not yet "
                       "received by the replica are lost",
        "next": "billdb dr rebuild",
        "ok": promoted and rto is not None,
    }


def run(ctx: Context, progress: Progress = lambda _m: None) -> dict[str, Any]:
    if provision.dr_state(ctx):
        raise BilldbError("a region failover is already in effect: run `billdb dr rebuild` first")
    return asyncio.run(_drill(ctx, progress))
