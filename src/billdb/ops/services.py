"""The supervised processes besides etcd and Patroni (each feature adds its own here)."""

from __future__ import annotations

from billdb.context import Context
from billdb.engines import process


def satellites(ctx: Context) -> list[process.Service]:
    """Services started by `up` after the cluster, stopped by `down` before it."""
    from billdb.monitoring import stack
    from billdb.ops import pooler
    from billdb.ops.backup import services as backup_services

    return [*backup_services.services(ctx), *pooler.services(ctx), *stack.services(ctx)]


def ensure_started(ctx: Context) -> tuple[bool, str]:
    """Start every satellite that is not running (the `services` step of `up`)."""
    notes = []
    for svc in satellites(ctx):
        pid, started = process.start(svc)
        if started:
            notes.append(f"started {svc.name} (pid {pid})")
    n = len(satellites(ctx))
    return bool(notes), "; ".join(notes) if notes else f"{n} running"
