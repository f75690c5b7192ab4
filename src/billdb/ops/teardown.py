"""`billdb down`: stop every process of the environment through its supervisord, then
supervisord itself; optionally purge the state directory."""

from __future__ import annotations

import shutil

from billdb.context import Context
from billdb.engines import etcd, patroni, process
from billdb.engines.supervisor import Supervisor
from billdb.errors import BilldbError
from billdb.ops.steps import Steps
from billdb.state import cluster


def down(ctx: Context, steps: Steps, purge: bool = False) -> Steps:
    lead = cluster.leader_name(ctx) if any(
        process.running_pid(patroni.service(ctx.local, ctx.layout, m)) for m in ctx.members
    ) else None
    # Standbys first, the primary last: nobody fails over while we stop.
    order = sorted(ctx.members, key=lambda m: (m.name == lead, m.kind == "zone"))
    # Satellites before the cluster, except what the cluster needs to stop cleanly (Azurite
    # holds repo2, which the primary archives its last WAL to): after it, like etcd.
    cluster_prio = patroni.service(ctx.local, ctx.layout, ctx.members[0]).priority
    extras = _satellites(ctx)
    for extra in [s for s in extras if s.priority >= cluster_prio]:
        steps.run(extra.name, lambda svc=extra: _stop(svc))
    for m in order:
        svc = patroni.service(ctx.local, ctx.layout, m)
        steps.run(f"member {m.name}", lambda svc=svc: _stop(svc))
    for extra in [s for s in extras if s.priority < cluster_prio]:
        steps.run(extra.name, lambda svc=extra: _stop(svc))
    for svc in etcd.services(ctx.local, ctx.layout):
        steps.run(svc.name, lambda svc=svc: _stop(svc))
    steps.run("supervisord", lambda: _shutdown(ctx))
    if purge:
        steps.run("purge", lambda: _purge(ctx))
    return steps


def _satellites(ctx: Context) -> list[process.Service]:
    """Other supervised processes (pooler, scheduler, exporter) registered by later modules."""
    from billdb.ops import services

    return services.satellites(ctx)


def _stop(svc: process.Service) -> tuple[bool, str]:
    stopped = process.stop(svc)
    return stopped, "stopped" if stopped else "not running"


def _shutdown(ctx: Context) -> tuple[bool, str]:
    stopped = Supervisor(ctx.layout.supervisor_dir).shutdown()
    return stopped, "shut down" if stopped else "not running"


def _purge(ctx: Context) -> tuple[bool, str]:
    state = ctx.layout.state_dir
    if not state.exists():
        return False, f"{state} does not exist"
    if not (ctx.layout.secrets_dir.exists() or (state / "members").exists()):
        raise BilldbError(f"{state} does not look like a billdb state directory; not deleting")
    shutil.rmtree(state)
    return True, f"deleted {state}"
