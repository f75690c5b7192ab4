"""`billdb status`: the members as Patroni and the OS see them, and the other services as
their supervisord sees them (state, pid, uptime, unexpected exits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from billdb.context import Context
from billdb.engines import etcd, patroni, process
from billdb.ops import services
from billdb.state import cluster

_ROLE_NAMES = {cluster.Role.LEADER: "primary", cluster.Role.STANDBY_LEADER: "primary",
               cluster.Role.SYNC_STANDBY: "sync_standby",
               cluster.Role.QUORUM_STANDBY: "sync_standby", cluster.Role.REPLICA: "replica"}


def postmaster_pid(data_dir: Path) -> int | None:
    """The PID in postmaster.pid when that process is alive."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if process.alive(pid) else None


def members(ctx: Context) -> list[dict[str, Any]]:
    state = cluster.observe(ctx)
    out = []
    for m in ctx.members:
        svc = patroni.service(ctx.local, ctx.layout, m)
        patroni_pid = process.running_pid(svc)
        # etcd keeps a dead member's key until its ttl ends: only an answering Patroni counts.
        answers = patroni_pid is not None and patroni.PatroniAPI(m).status() is not None
        info = state.member(m.name) if answers else None
        paths = ctx.layout.member(m.name)
        role = _ROLE_NAMES.get(info.role, "unknown") if info else "unknown"
        out.append({
            "name": m.name,
            "role": role,
            "kind": m.kind,
            "site": m.site,
            "state": info.state.value if info else ("down" if not answers else "unknown"),
            "lag_bytes": 0 if role == "primary" else (info.lag_bytes if info else None),
            "timeline": info.timeline if info else None,
            "port": m.port,
            "rest_port": m.rest_port,
            "pid": postmaster_pid(paths.data),
            "patroni_pid": patroni_pid,
            "data_dir": str(paths.data),
            "supervisor": process.info(svc),
        })
    return out


def service_states(ctx: Context) -> list[dict[str, Any]]:
    out = []
    for svc in [*etcd.services(ctx.local, ctx.layout), *services.satellites(ctx)]:
        pid = process.running_pid(svc)
        out.append({"name": svc.name, "state": "running" if pid else "stopped", "pid": pid,
                    "log": str(svc.logfile), **process.info(svc)})
    return out


def status(ctx: Context) -> dict[str, Any]:
    mem = members(ctx)
    svcs = service_states(ctx)
    healthy = all(m["state"] in ("running", "streaming") for m in mem) and all(
        s["state"] == "running" for s in svcs)
    from billdb.ops import registry
    from billdb.ops.backup import health as backup_health

    return {"ok": healthy, "state_dir": str(ctx.layout.state_dir), "members": mem,
            "services": svcs, "backup": backup_health.status_section(ctx),
            **{name: section(ctx) for name, section in registry.get().status_sections}}
