"""PgBouncer in front of the servers: configured by `up`, kept on the primary by a follower.

After a failover the primary is another member. The follower (`billdb pooler follow`, a
supervised process) watches Patroni's leader key in etcd twice a second and, when the leader
changes, rewrites [databases] and sends PgBouncer SIGHUP: PgBouncer closes its connections to
the old server as they come back to the pool and opens new ones to the new primary; clients
stay connected to PgBouncer. The read alias follows the routes file (the read replica; the
primary when there is none, e.g. after a DR promotion). While no leader holds the key (the
seconds of a failover) the configuration is left as it is.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time

import psycopg

from billdb import logsetup
from billdb import sql as sqlfiles
from billdb.client.routes import Routes
from billdb.context import Context, load_context
from billdb.converge import pooler as resource
from billdb.engines import billdb_self, etcd, pgbouncer, postgres, process
from billdb.engines.http import HttpError
from billdb.engines.pgbouncer import PoolerPaths
from billdb.errors import BilldbError, StepError
from billdb.render import pgbouncer as render
from billdb.render.patroni import NAMESPACE
from billdb.retry import PollTimeout, poll
from billdb.state import cluster
from billdb.state.pooler import conninfo

log = logging.getLogger(__name__)

FOLLOW_INTERVAL_S = 0.5


def enabled(ctx: Context) -> bool:
    return ctx.plan.pooler.enabled


def follower(ctx: Context) -> process.Service:
    p = PoolerPaths.of(ctx.layout)
    return process.Service(
        name="pooler-follower",
        argv=billdb_self.command(ctx.plan_path, "pooler", "follow", "--pidfile",
                                 str(p.follower_pidfile)),
        pidfile=p.follower_pidfile, logfile=p.follower_log,
        supervisor=ctx.layout.supervisor_dir, priority=450,  # stopped before PgBouncer
        env=billdb_self.env())


def services(ctx: Context) -> list[process.Service]:
    """Stop order: the follower first, so it never repoints a PgBouncer being stopped."""
    if not enabled(ctx):
        return []
    return [follower(ctx), pgbouncer.service(ctx.local, ctx.layout)]


def targets(ctx: Context) -> tuple[int, int] | None:
    """(primary port, read port) from Patroni's leader key and the routes file; None while
    no member holds the leader key (or etcd does not answer)."""
    try:
        leader = etcd.get(ctx.local, ctx.layout, f"{NAMESPACE}{ctx.local.patroni.scope}/leader")
    except HttpError:
        return None
    ports = {m.name: m.port for m in ctx.members}
    if leader not in ports:
        return None
    primary = ports[leader]
    try:
        read_ports = Routes.load(ctx.layout.routes_file).read
    except (OSError, ValueError, KeyError):
        read_ports = [m.port for m in ctx.members if m.kind == "replica"]
    read = next((p for p in read_ports if p != primary), primary)
    return primary, read


def write_auth_file(ctx: Context) -> bool:
    users = render.pooled_users(ctx.plan)
    with cluster.admin_connect(ctx) as conn:
        rows = dict(conn.execute(sqlfiles.load("pooler/verifiers"), {"users": users}).fetchall())
    missing = sorted(set(users) - set(rows))
    if missing:
        raise StepError("pooler", f"no SCRAM verifier for {', '.join(missing)}")
    uid = process.os_user(ctx.local.os_user).pw_uid
    return pgbouncer.write_file(PoolerPaths.of(ctx.layout).auth_file, render.auth_file(rows),
                                0o600, uid)


def probe(ctx: Context, dbname: str) -> tuple[int, bool, bool, str]:
    """(server port, in recovery, TLS to the server, TLS version) seen through the pooler."""
    with postgres.attempt(conninfo(ctx, dbname), prepare_threshold=None) as c:
        return c.execute(sqlfiles.load("pooler/probe")).fetchone()


def _wait_serving(ctx: Context, primary: int, timeout: float = 15.0) -> tuple[int, bool, bool, str]:
    try:
        return poll(lambda: probe(ctx, ctx.plan.database.name), timeout,
                    until=lambda seen: seen[0] == primary, on=psycopg.Error)
    except PollTimeout as exc:
        last = exc.last
        why = (f"answered by port {last[0]}" if isinstance(last, tuple)
               else (str(last).strip().splitlines() or [type(last).__name__])[-1])
        raise StepError("pooler", f"PgBouncer does not reach the primary (port {primary}): "
                        f"{why}", str(PoolerPaths.of(ctx.layout).log)) from None


def ensure_step(ctx: Context) -> tuple[bool, str]:
    """The `pooler` step of `up`: auth_file, then the pooler resource applied (configuration,
    PgBouncer running with it), then PgBouncer serving the primary."""
    if not enabled(ctx):
        return False, "disabled by the plan (pooler.enabled: false)"
    PoolerPaths.of(ctx.layout).root.mkdir(mode=0o755, parents=True, exist_ok=True)
    changed_auth = write_auth_file(ctx)
    found = targets(ctx)
    if found is None:
        lead = cluster.leader(ctx)
        found = (lead.port, lead.port)
    primary, read = found
    pid, what = resource.apply(ctx, primary, read, changed_auth)
    port, _, ssl, version = _wait_serving(ctx, primary)
    return (what != "running",
            f"PgBouncer {what} (pid {pid}) on port {ctx.local.pooler_port}, "
            f"{ctx.plan.pooler.mode} mode: {ctx.plan.database.name} -> {port} "
            f"(TLS {version if ssl else 'off'}), {render.read_alias(ctx.plan)} -> {read}")


def follow(ctx: Context, interval_s: float = FOLLOW_INTERVAL_S) -> None:
    """Keep PgBouncer pointed at the primary until SIGTERM."""
    if not enabled(ctx):
        raise BilldbError("the plan disables the pooler (pooler.enabled: false)")
    stop = {"flag": False}

    def on_term(signum, frame) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    svc = pgbouncer.service(ctx.local, ctx.layout)
    last: tuple[int, int] | None = None
    logsetup.configure()
    log.info(f"following the primary for PgBouncer on port {ctx.local.pooler_port}")
    while not stop["flag"]:
        found = targets(ctx)
        if found is not None and found != last:
            with contextlib.suppress(BilldbError):  # render from the plan as it is now
                ctx = load_context(ctx.plan_path, ctx.env_name)
            if resource.write_ini(ctx, *found):
                sent = pgbouncer.reload(svc)
                log.info(f"primary -> port {found[0]}, read -> port {found[1]}: configuration "
                     f"rewritten{', PgBouncer reloaded' if sent else ' (PgBouncer not running)'}")
            last = found
        time.sleep(interval_s)
    log.info("follower stopped")


def status(ctx: Context) -> dict:
    """Where PgBouncer should point and which servers answer through it."""
    if not enabled(ctx):
        return {"ok": True, "enabled": False}
    found = targets(ctx)
    pid = process.running_pid(pgbouncer.service(ctx.local, ctx.layout))
    out: dict = {"enabled": True, "port": ctx.local.pooler_port, "pid": pid,
                 "follower_pid": process.running_pid(follower(ctx)),
                 "primary_port": found[0] if found else None,
                 "read_port": found[1] if found else None}
    ok = bool(pid and out["follower_pid"] and found)
    for alias in (ctx.plan.database.name, render.read_alias(ctx.plan)):
        try:
            port, recovery, ssl, version = probe(ctx, alias)
            out[alias] = {"server_port": port, "in_recovery": recovery,
                          "server_tls": version if ssl else None}
        except psycopg.Error as exc:
            out[alias] = {"error": str(exc).strip().splitlines()[-1] if str(exc).strip() else ""}
            ok = False
    out["ok"] = ok and bool(found) and out[ctx.plan.database.name].get("server_port") == found[0]
    return out
