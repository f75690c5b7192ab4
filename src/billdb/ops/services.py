"""The supervised processes besides etcd and Patroni (each feature adds its own here)."""

from __future__ import annotations

from billdb.context import Context
from billdb.engines import process


def satellites(ctx: Context) -> list[process.Service]:
    """Services started by `up` after the cluster, stopped by `down` before it."""
    from billdb.ops import pooler, registry
    from billdb.ops.backup import services as backup_services

    extra = [svc for provider in registry.get().services for svc in provider(ctx)]
    return [*backup_services.services(ctx), *pooler.services(ctx), *extra]


def ensure_started(ctx: Context) -> tuple[bool, str]:
    """Start every satellite that is not running (the `services` step of `up`)."""
    notes = []
    for svc in satellites(ctx):
        pid, started = process.start(svc)
        if started:
            notes.append(f"started {svc.name} (pid {pid})")
    n = len(satellites(ctx))
    return bool(notes), "; ".join(notes) if notes else f"{n} running"
