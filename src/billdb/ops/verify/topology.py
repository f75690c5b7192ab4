"""The members and their roles (§2.2 HA, §7 read replica), as Patroni and PostgreSQL see it."""

from __future__ import annotations

from collections.abc import Iterator

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.ops.verify.check import Check, equal
from billdb.render.patroni import dcs_config
from billdb.state import cluster

S_HA = "§2.2 HA"
S_REPLICA = "§7 read replica"


def checks(ctx: Context) -> Iterator[Check]:
    body = cluster.patroni_cluster(ctx)
    if body is None:
        yield Check("topology.patroni", S_HA, "Patroni answers", "no member answers", False)
        return
    members = {m["name"]: m for m in body.get("members", [])}
    yield equal("topology.members", S_HA, sorted(m.name for m in ctx.members), sorted(members))
    leaders = [n for n, m in members.items() if m.get("role") == "leader"]
    zones = {m.name for m in ctx.members if m.kind == "zone"}
    yield Check("topology.primary", S_HA, "one running primary in a zone",
                ", ".join(f"{n} ({members[n].get('state')})" for n in leaders) or "none",
                len(leaders) == 1 and leaders[0] in zones
                and members[leaders[0]].get("state") == "running")
    if dcs_config(ctx.plan)["synchronous_mode"]:
        syncs = [n for n, m in members.items() if m.get("role") == "sync_standby"]
        yield Check("topology.sync_standby", S_HA, "a zone member is the synchronous standby",
                    ", ".join(syncs) or "none", len(syncs) == 1 and syncs[0] in zones)
    for m in ctx.members:
        info = members.get(m.name, {})
        if m.kind == "replica":
            yield Check(f"topology.{m.name}.streaming", S_REPLICA, "streaming, asynchronous",
                        f"{info.get('state')}, {info.get('role')}",
                        info.get("state") == "streaming" and info.get("role") == "replica")
            yield equal(f"topology.{m.name}.never_auto_promoted", S_REPLICA, True,
                        bool((info.get("tags") or {}).get("nofailover")))
    if not leaders:
        return
    with cluster.admin_connect(ctx, ctx.member(leaders[0])) as conn:
        repl = {r[0]: r for r in conn.execute(sqlfiles.load("verify/replication"))}
    max_lag = ctx.plan.read_replica.max_lag_bytes
    for m in ctx.members:
        if m.name == leaders[0]:
            continue
        row = repl.get(m.name)
        lag = row[3] if row else None
        yield Check(f"replication.{m.name}.lag", S_REPLICA, f"<= {max_lag} bytes",
                    "not replicating" if row is None else f"{lag} bytes ({row[2]})",
                    row is not None and lag is not None and lag <= max_lag)
