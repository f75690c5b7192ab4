"""TLS and client authentication (§3.1, §3.2): proven with real connection attempts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import psycopg

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.engines import postgres
from billdb.ops.verify.check import Check, equal
from billdb.state import cluster, hba

S_TLS = "§3.2 security"
S_NET = "§3.1 network"


def _attempt(conninfo: str) -> tuple[bool, str]:
    """Try to connect; (connected, what happened)."""
    try:
        with postgres.attempt(conninfo, autocommit=False, connect_timeout=5) as conn:
            ssl = conn.execute(sqlfiles.load("verify/own_ssl")).fetchone()
            how = f"over TLS {ssl[1] or ''}".strip() if ssl[0] else "without TLS"
            return True, f"connected {how}"
    except psycopg.OperationalError as exc:
        text = str(exc).strip().splitlines()
        return False, f"refused: {text[-1] if text else type(exc).__name__}"[:200]


def checks(ctx: Context) -> Iterator[Check]:
    plan = ctx.plan
    lead = cluster.leader(ctx)
    db = plan.database.name
    # Every login role authenticates over verified TLS with its generated password.
    for role in plan.roles.login:
        ok, what = _attempt(postgres.uri(ctx.layout, user=role, dbname=db, ports=[lead.port]))
        yield Check(f"auth.{role}.tls_login", "§4.2 roles", "connected over TLS", what,
                    ok and what.startswith("connected over TLS"))
    probe_role = next(iter(plan.roles.login))
    base = {"user": probe_role, "dbname": db, "ports": [lead.port]}
    ok, what = _attempt(postgres.uri(ctx.layout, **base, extra={"sslmode": "disable"}))
    yield Check("tls.plaintext_refused", S_TLS, "refused", what, not ok)
    ok, what = _attempt(postgres.uri(ctx.layout, **base,
                                     extra={"ssl_min_protocol_version": "TLSv1",
                                            "ssl_max_protocol_version": "TLSv1.1"}))
    yield Check("tls.tls11_refused", S_TLS, "refused", what, not ok)
    no_passfile = str(ctx.layout.state_dir / "no-such-passfile")
    ok, what = _attempt(postgres.uri(ctx.layout, **base,
                                     extra={"sslmode": "require", "passfile": no_passfile}))
    yield Check("auth.password_required", S_TLS, "refused without password", what, not ok)

    allowed = {plan.environments.local.client_networks[c] for c in plan.network.allowed_clients}
    admin = set(plan.environments.local.admin_networks)
    for m in ctx.members:
        try:
            with cluster.admin_connect(ctx, m) as conn:
                rules = hba.read(conn)
                ssl = conn.execute(sqlfiles.load("verify/own_ssl")).fetchone()
        except Exception as exc:
            yield Check(f"hba.{m.name}.reachable", S_TLS, "reachable", str(exc), False)
            continue
        yield equal(f"tls.{m.name}.admin_connection", S_TLS, "TLS", "TLS" if ssl[0] else "none")
        errors = [r.error for r in rules if r.error]
        yield Check(f"hba.{m.name}.valid", S_TLS, "no errors", "; ".join(errors) or "no errors",
                    not errors)
        plain = [f"{r.where}: {r.type}" for r in rules
                 if r.type in ("host", "hostnossl", "hostgssenc", "hostnogssenc")]
        yield Check(f"hba.{m.name}.tls_only", S_TLS, "only hostssl network rules",
                    ", ".join(plain) or "only hostssl network rules", not plain)
        weak = [f"{r.where}: {r.auth_method}" for r in rules
                if r.type == "hostssl" and r.auth_method != "scram-sha-256"]
        yield Check(f"hba.{m.name}.scram_only", S_TLS, "scram-sha-256",
                    ", ".join(weak) or "scram-sha-256", not weak)
        nets = {str(ipaddress.ip_network(r.network, strict=False))
                for r in rules if r.type == "hostssl" and r.network}
        extra = sorted(nets - allowed - admin)
        yield Check(f"hba.{m.name}.client_ranges", S_NET,
                    sorted(allowed | admin), sorted(nets), not extra and bool(nets & allowed))
