"""The members and their roles (§2.2 HA, §7 read replica), as Patroni and PostgreSQL see it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from psycopg.rows import class_row

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.ops.verify.check import Check, equal
from billdb.render.patroni import dcs_config
from billdb.state import cluster

S_HA = "§2.2 HA"
S_REPLICA = "§7 read replica"



@dataclass(frozen=True)
class Standby:
    """A row of verify/replication.sql: a standby as the primary sees it."""

    application_name: str
    state: str
    sync_state: str
    lag_bytes: int | None

def checks(ctx: Context) -> Iterator[Check]:
    state = cluster.read(ctx)
    if state is None:
        yield Check("topology.patroni", S_HA, "Patroni answers", "no member answers", False)
        return
    yield equal("topology.members", S_HA, sorted(m.name for m in ctx.members),
                sorted(state.names))
    leaders = [m for m in state.members if m.role is cluster.Role.LEADER]
    zones = {m.name for m in ctx.members if m.kind == "zone"}
    yield Check("topology.primary", S_HA, "one running primary in a zone",
                ", ".join(f"{m.name} ({m.state})" for m in leaders) or "none",
                len(leaders) == 1 and leaders[0].name in zones and leaders[0].leads)
    if dcs_config(ctx.plan)["synchronous_mode"]:
        syncs = [m.name for m in state.with_role(cluster.Role.SYNC_STANDBY)]
        yield Check("topology.sync_standby", S_HA, "a zone member is the synchronous standby",
                    ", ".join(syncs) or "none", len(syncs) == 1 and syncs[0] in zones)
    for m in ctx.members:
        info = state.member(m.name)
        if m.kind == "replica":
            yield Check(f"topology.{m.name}.streaming", S_REPLICA, "streaming, asynchronous",
                        f"{info.state}, {info.role}" if info else "None, None",
                        info is not None and info.streaming and info.role is cluster.Role.REPLICA)
            yield equal(f"topology.{m.name}.never_auto_promoted", S_REPLICA, True,
                        info is not None and info.nofailover)
    if not leaders:
        return
    with cluster.admin_connect(ctx, ctx.member(leaders[0].name)) as conn:
        cur = conn.cursor(row_factory=class_row(Standby))
        repl = {r.application_name: r
                for r in cur.execute(sqlfiles.load("verify/replication"))}
    max_lag = ctx.plan.read_replica.max_lag_bytes
    for m in ctx.members:
        if m.name == leaders[0].name:
            continue
        row = repl.get(m.name)
        lag = row.lag_bytes if row else None
        yield Check(f"replication.{m.name}.lag", S_REPLICA, f"<= {max_lag} bytes",
                    "not replicating" if row is None else f"{lag} bytes ({row.sync_state})",
                    row is not None and lag is not None and lag <= max_lag)
