"""The supervised processes of the backup feature: the scheduler, Azurite (the geo repo's blob
store) and the copies restored beside the cluster, so `up` starts, `down` stops and `status`
shows them like etcd."""

from __future__ import annotations

import json
from pathlib import Path

from billdb.context import Context
from billdb.engines import azurite, billdb_self, process
from billdb.ops.backup import common
from billdb.ops.scheduler import jobs


def scheduler(ctx: Context) -> process.Service:
    """`billdb scheduler run` for this plan; runs as root (it reads the secrets file)."""
    d = common.paths(ctx).scheduler_dir
    pidfile = d / "scheduler.pid"
    return process.Service(
        name="scheduler",
        argv=billdb_self.command(ctx.plan_path, "scheduler", "run", "--pidfile", str(pidfile)),
        pidfile=pidfile,
        logfile=d / "scheduler.log",
        supervisor=ctx.layout.supervisor_dir,
        priority=400,
        env={"BILLDB_SCHEDULE": jobs.digest(ctx), **billdb_self.env()},
    )


def restored_copy(ctx: Context, name: str) -> process.Service:
    """A copy restored beside the cluster: its own postmaster on its own port."""
    p = common.paths(ctx).restore(name)
    return process.Service(
        name=f"restored copy {name}",
        argv=[str(Path(ctx.local.postgres_bin) / "postgres"), "-D", str(p.data)],
        pidfile=p.root / "postgres.pid",
        logfile=p.startup_log,
        user=ctx.local.os_user,
    )


def restored_names(ctx: Context) -> list[str]:
    root = common.paths(ctx).restores_dir
    if not root.is_dir():
        return []
    names = []
    for meta in sorted(root.glob("*/restore.json")):
        try:
            if json.loads(meta.read_text(encoding="utf-8")).get("state") == "ready":
                names.append(meta.parent.name)
        except (OSError, ValueError):
            continue
    return names


def services(ctx: Context) -> list[process.Service]:
    out = [scheduler(ctx)]
    if ctx.local.backup.geo_repo == "azurite":
        out.append(azurite.service(ctx.local, ctx.layout, common.azure_key(ctx)))
    out += [restored_copy(ctx, n) for n in restored_names(ctx)]
    return out
