"""The connection budget and PgBouncer (§5.2 pool, docs/topology.md built-in PgBouncer): every
server can take what the plan sends it (counted by billdb.plan.budget, as lint and up count);
PgBouncer runs with the plan's settings, on the primary, TLS on both sides."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg

from billdb.context import Context
from billdb.converge import pooler as resource
from billdb.engines import pgbouncer, postgres, process
from billdb.ops import pooler
from billdb.ops.verify.check import Check
from billdb.plan import budget
from billdb.render.budget import budgets
from billdb.render.parameters import cluster_parameters
from billdb.state import cluster
from billdb.state.pooler import conninfo

S_POOL = resource.S_POOL
S_MEM = "§5.1 parameters"


def budget_checks(ctx: Context) -> Iterator[Check]:
    members = ctx.members
    has_replica = any(m.kind == "replica" for m in members)
    for b in budgets(ctx.plan, standbys=len(members) - 1, has_replica=has_replica):
        yield Check(f"budget.{b.name}", S_POOL, f"<= {b.limit_name} {b.limit}", b.describe(),
                    b.ok)
    # The members run the plan's memory settings scaled to their budget (same ratios).
    mem = budget.memory(cluster_parameters(ctx.plan, "local"),
                        ctx.plan.environments.local.memory_budget_mb * 1024**2)
    yield Check("budget.memory", S_MEM, "<= environments.local.memory_budget_mb",
                mem.describe(), not mem.over)


def checks(ctx: Context) -> Iterator[Check]:
    yield from budget_checks(ctx)
    if not pooler.enabled(ctx):
        return
    plan = ctx.plan
    svc = pgbouncer.service(ctx.local, ctx.layout)
    pid = process.running_pid(svc)
    yield Check("pooler.running", S_POOL, "PgBouncer running", f"pid {pid}" if pid else "stopped",
                bool(pid))
    fpid = process.running_pid(pooler.follower(ctx))
    yield Check("pooler.follower", S_POOL, "follower running",
                f"pid {fpid}" if fpid else "stopped", bool(fpid))
    if not pid:
        return
    policy, want_policy = process.scheduling(pid), f"SCHED_RR {pgbouncer.REALTIME_PRIORITY}"
    yield Check("pooler.realtime_priority", S_POOL, want_policy, policy, policy == want_policy)
    yield from resource.checks(resource.desired(ctx), resource.observe(ctx))
    lead = cluster.leader(ctx)
    try:
        port, recovery, ssl, version = pooler.probe(ctx, plan.database.name)
        yield Check("pooler.primary", S_POOL, f"the primary (port {lead.port})",
                    f"port {port}{' (in recovery)' if recovery else ''}",
                    port == lead.port and not recovery)
        yield Check("pooler.server_tls", S_POOL, "TLS to the server (verify-full)",
                    version if ssl else "no TLS", bool(ssl))
    except psycopg.Error as exc:
        yield Check("pooler.primary", S_POOL, f"the primary (port {lead.port})",
                    str(exc).strip()[:200], False)
    try:
        with postgres.attempt(conninfo(ctx, plan.database.name, sslmode="disable")):
            refused, what = False, "connected without TLS"
    except psycopg.OperationalError as exc:
        refused, what = True, "refused: " + (str(exc).strip().splitlines() or ["?"])[-1][:120]
    yield Check("pooler.client_tls", S_POOL, "plaintext refused", what, refused)
