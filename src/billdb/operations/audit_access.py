"""Audit controls on who may connect and what they may do (CIS PostgreSQL 15 §4 user access
and authorization, §5 connection and login; pgdsat's role and privilege checks)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.internal import MONITOR_USER, REPLICATION_USER, REWIND_USER, SUPERUSER
from billdb.operations.results import control
from billdb.state.hba import HbaRule

ACCESS = "CIS 4 user access and authorization"
LOGIN = "CIS 5 connection and login"
ENC = "pgdsat encryption (plan §10.2)"


@dataclass(frozen=True)
class RoleRow:
    """A row of audit/roles.sql (pg_authid), read by name."""

    rolname: str
    rolsuper: bool
    rolcreaterole: bool
    rolcreatedb: bool
    rolreplication: bool
    rolbypassrls: bool
    rolcanlogin: bool
    rolconnlimit: int
    has_password: bool
    md5_verifier: bool


def _net(rule: HbaRule) -> ipaddress._BaseNetwork | None:
    if not rule.network:
        return None
    try:
        return ipaddress.ip_network(rule.network, strict=False)
    except ValueError:
        return None


def hba_controls(ctx: Context, rules: list[HbaRule], where: str) -> Iterator[dict[str, Any]]:
    net_rules = [r for r in rules if r.type != "local"]
    plain = [f"{r.where} {r.type}" for r in net_rules if r.type != "hostssl"]
    yield control("hba.hostssl_only", "pg_hba: network rules are hostssl only", LOGIN,
                  not plain, f"{where}: " + (", ".join(plain) or f"{len(net_rules)} rules, "
                                             "all hostssl"))
    weak = [f"{r.where} {r.auth_method}" for r in net_rules if r.auth_method != "scram-sha-256"]
    yield control("hba.scram_only", "pg_hba: scram-sha-256 on every network rule", LOGIN,
                  not weak, f"{where}: " + (", ".join(weak) or "scram-sha-256 everywhere"))
    bad = [f"{r.where} {r.type} {r.auth_method}" for r in rules
           if r.auth_method in ("trust", "password", "md5", "ident")]
    yield control("hba.no_weak_methods", "pg_hba: no trust, password, md5 or ident", LOGIN,
                  not bad, f"{where}: " + (", ".join(bad) or "none"))
    local = [r for r in rules if r.type == "local"]
    shown = [f"{r.where} {','.join(r.user_name)} {r.auth_method}" for r in local]
    ok_local = all(r.auth_method == "peer" and r.user_name == [SUPERUSER] for r in local)
    yield control("hba.local_peer_only", "pg_hba: local socket only for the server user by peer",
                  LOGIN, ok_local, f"{where}: " + ("; ".join(shown) or "no local rules"))
    wide = [f"{r.where} {r.address}" for r in net_rules
            if ((n := _net(r)) is not None and n.prefixlen == 0)
            or r.address == "all"]
    yield control("hba.no_any_address", "pg_hba: no rule for any address (0.0.0.0/0, all)",
                  LOGIN, not wide, f"{where}: " + (", ".join(wide) or "none"))
    errors = [f"{r.where}: {r.error}" for r in rules if r.error]
    yield control("hba.valid", "pg_hba: every line valid", LOGIN, not errors,
                  f"{where}: " + ("; ".join(errors) or f"{len(rules)} lines, no errors"))
    yield _superuser_reach(ctx, net_rules, where)
    repl = [r for r in net_rules if "replication" in r.database]
    ok = all(r.user_name == [REPLICATION_USER] and r.auth_method == "scram-sha-256"
             for r in repl)
    yield control("hba.replication_rules", "replication only for the replication role, scram",
                  "CIS 7 replication", ok and bool(repl),
                  f"{where}: {len(repl)} replication rules, users "
                  f"{sorted({u for r in repl for u in r.user_name})}")


def _superuser_reach(ctx: Context, net_rules: list[HbaRule], where: str) -> dict[str, Any]:
    """A rule that lets a superuser (or `all`) in from a client network outside the admin
    networks makes a superuser reachable from the service's side."""
    env = ctx.local
    clients = [ipaddress.ip_network(env.client_networks[c])
               for c in ctx.plan.network.allowed_clients]
    admin = [ipaddress.ip_network(a) for a in env.admin_networks]
    reach = []
    for r in net_rules:
        n = _net(r)
        if n is None or not any(n.overlaps(c) for c in clients):
            continue
        if any(n.subnet_of(a) for a in admin if n.version == a.version):
            continue
        if {"all", SUPERUSER} & set(r.user_name):
            reach.append(f"{r.where} {r.address} users {','.join(r.user_name)}")
    return control("hba.superuser_not_from_clients", "no superuser reachable from client "
                   "networks", LOGIN, not reach,
                   f"{where}: " + (", ".join(reach) or f"client networks "
                                   f"{[str(c) for c in clients]} admit only the plan's login "
                                   f"roles; {SUPERUSER} only from {[str(a) for a in admin]}"))


def role_controls(ctx: Context, roles: list[RoleRow], server_roles: list[tuple[str, str]]) \
        -> Iterator[dict[str, Any]]:
    """server_roles: (member, group) for every membership of pg_read_server_files and the like."""
    plan_roles = set(ctx.plan.roles.all()) | {ctx.plan.roles.owner}
    internal = {SUPERUSER, REPLICATION_USER, REWIND_USER, MONITOR_USER}  # billdb's own
    supers = [r.rolname for r in roles if r.rolsuper]
    yield control("roles.superuser_count", "superusers: only billdb's administrator", ACCESS,
                  supers == [SUPERUSER], f"{len(supers)} superuser(s): {supers}")
    mine = [r for r in roles if r.rolname in plan_roles]
    for field, attr in (("rolsuper", "SUPERUSER"), ("rolcreaterole", "CREATEROLE"),
                        ("rolcreatedb", "CREATEDB"), ("rolreplication", "REPLICATION"),
                        ("rolbypassrls", "BYPASSRLS")):
        bad = [r.rolname for r in mine if getattr(r, field)]
        yield control(f"roles.no_{attr.lower()}", f"no plan role has {attr}", ACCESS, not bad,
                      f"{len(mine)} plan roles; with {attr}: {bad or 'none'}")
    extra = sorted(r.rolname for r in roles if r.rolname not in plan_roles | internal)
    yield control("roles.only_known", "no role outside the plan and billdb's own", ACCESS,
                  not extra, f"{len(roles)} roles; unknown: {extra or 'none'}")
    repl = sorted(r.rolname for r in roles if r.rolreplication and not r.rolsuper)
    yield control("roles.replication_dedicated", "replication attribute only on the "
                  "replication role", "CIS 7 replication", repl == [REPLICATION_USER],
                  f"non-superusers with REPLICATION: {repl}")
    md5 = [r.rolname for r in roles if r.md5_verifier]
    yield control("roles.no_md5_verifiers", "no md5 password verifiers stored", LOGIN, not md5,
                  f"md5 verifiers: {md5 or 'none'} of "
                  f"{sum(1 for r in roles if r.has_password)} passwords")
    nopw = [r.rolname for r in roles
            if r.rolcanlogin and not r.has_password and r.rolname != SUPERUSER]
    yield control("roles.login_has_password", "every login role has a password", LOGIN,
                  not nopw, f"login roles without password: {nopw or 'none'} "
                  f"({SUPERUSER} logs in by peer on the private socket, by password on TLS)")
    nologin = [r.rolname for r in roles if r.rolname not in ctx.plan.roles.login
               and r.rolname in plan_roles and r.rolcanlogin]
    yield control("roles.groups_nologin", "group and owner roles cannot log in", ACCESS,
                  not nologin, f"group/owner roles with LOGIN: {nologin or 'none'}")
    limits = {r.rolname: r.rolconnlimit for r in roles if r.rolname in ctx.plan.roles.login}
    unlimited = sorted(n for n, lim in limits.items() if lim < 0)
    shown = ", ".join(f"{n} {'none' if lim < 0 else lim}" for n, lim in sorted(limits.items()))
    yield control("roles.connection_limits", "per-role connection limits", LOGIN,
                  None if unlimited else True,
                  f"limits: {shown}" + ("; unlimited roles are bounded by PgBouncer's pools "
                                        "and max_connections (plan §5.2 sets no per-role "
                                        "limit)" if unlimited else ""))
    held = [f"{m} in {g}" for m, g in server_roles]
    yield control("roles.no_server_file_access", "no role reads/writes server files or runs "
                  "programs", ACCESS, not held, f"memberships: {held or 'none'}")


def database_controls(conn: psycopg.Connection, ctx: Context) -> Iterator[dict[str, Any]]:
    """Inside the service database: PUBLIC's privileges, SECURITY DEFINER, extensions and the
    encrypted columns."""
    q = sqlfiles.load
    create, usage, connect, temp = conn.execute(q("audit/public_schema")).fetchone()
    yield control("priv.public_schema_create", "no CREATE on schema public for PUBLIC", ACCESS,
                  not create, f"PUBLIC on schema public: CREATE {_yn(create)}, USAGE {_yn(usage)}")
    yield control("priv.public_database", "no CONNECT/TEMPORARY on the database for PUBLIC",
                  ACCESS, not (connect or temp),
                  f"PUBLIC: CONNECT {_yn(connect)}, TEMPORARY {_yn(temp)}")
    rows = conn.execute(q("audit/public_tables")).fetchall()
    yield control("priv.public_tables", "no PUBLIC privileges on the service's tables", ACCESS,
                  not rows, f"PUBLIC grants: {[f'{t}:{p}' for t, p in rows] or 'none'}")
    funcs = conn.execute(q("audit/security_definer")).fetchall()
    loose = [f for f, fixed in funcs if not fixed]
    yield control("priv.security_definer_search_path", "SECURITY DEFINER functions fix "
                  "search_path", ACCESS, not loose,
                  f"{len(funcs)} SECURITY DEFINER functions; without search_path: "
                  f"{loose or 'none'}")
    exts = {name for name, _version in conn.execute(q("audit/extensions"))}
    allowed = set(ctx.plan.database.extensions) | {"plpgsql", "amcheck"}
    yield control("ext.only_plan", "only the plan's extensions installed",
                  "CIS 1 installation and patches",
                  exts <= allowed, f"installed {sorted(exts)}")
    yield control("audit.pgaudit_extension", "pgaudit extension created", "CIS 3.2 pgaudit",
                  "pgaudit" in exts, f"pgaudit {'present' if 'pgaudit' in exts else 'absent'} "
                  f"in {ctx.plan.database.name}")
    for col in ctx.plan.security.column_encryption.columns:
        table, column = col.split(".")
        plain, total = conn.execute(psycopg.sql.SQL(q("audit/plaintext")).format(
            table=psycopg.sql.Identifier("public", table),
            column=psycopg.sql.Identifier(column))).fetchone()
        yield control(f"enc.{col}", f"{col}: only AES-256-GCM envelopes stored", ENC,
                      plain == 0, f"{total} values, {plain} not a v1 envelope")


def _yn(granted: object) -> str:
    return "granted" if granted else "not granted"
