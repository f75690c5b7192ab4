"""The supervised processes besides etcd and Patroni (each feature adds its own here)."""

from __future__ import annotations

from billdb.context import Context
from billdb.engines import process


def satellites(ctx: Context) -> list[process.Service]:
    """Services started by `up` after the cluster, stopped by `down` before it."""
    return []
