"""Plan -> PgBouncer configuration (the stand-in for Azure's built-in PgBouncer). Pure.

One PgBouncer in transaction mode serves two logical databases: `<db>` on the primary and
`<db>_read` on the read replica, so neither server sees more than the pooler's server
connections however many service pods connect (docs/topology.md; seed §5.2: 15 pods x 15 = 225
direct connections would exceed max_connections 200). TLS on both sides: clients must use TLS
and get the environment's server certificate; PgBouncer verifies the servers against the CA
(verify-full). Users come from an auth_file holding the servers' own SCRAM verifiers (never a
password): a client's SCRAM login gives PgBouncer the keys to log in to the server as that
user (SCRAM pass-through), so passwords stay in the secrets store only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from billdb.plan.budget import PoolerLimits
from billdb.plan.models import Plan
from billdb.render import tls as tls_policy

_TLS_PROTOCOLS = {"TLSv1.2": "tlsv1.2,tlsv1.3", "TLSv1.3": "tlsv1.3"}
# What PgBouncer reads and relays at once: one TLS record (16 kB). With the default 4 kB a
# pipelined batch's rows reached the client in several pieces, each a wake-up of its event
# loop (measured, one run split between two PgBouncers: p50 15-25 % lower with 16 kB).
PKT_BUF = 16384


@dataclass(frozen=True)
class PoolerFiles:
    """Where the rendered configuration points (paths only)."""

    auth_file: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path


def read_alias(plan: Plan) -> str:
    """The logical database that the pooler maps to the read replica."""
    return f"{plan.database.name}_read"


def server_pool(plan: Plan) -> int:
    """Server connections one pooler database may open to its server (pool + reserve, capped
    by max_db_connections whatever the number of users): the budget model's figure."""
    p = plan.pooler
    return PoolerLimits(p.default_pool_size, p.reserve_pool_size, p.max_client_conn).server_pool


def pooled_users(plan: Plan) -> list[str]:
    return sorted(plan.roles.login)


def auth_file(verifiers: dict[str, str]) -> str:
    """userlist.txt: "user" "SCRAM-SHA-256$..." (the server's verifier, not a password)."""
    def q(s: str) -> str:
        return '"' + s.replace('"', '""') + '"'

    return "".join(f"{q(user)} {q(v)}\n" for user, v in sorted(verifiers.items()))


@dataclass(frozen=True)
class IniSetting:
    """One [pgbouncer] setting as the plan means it: a number for a count or a time in seconds,
    text otherwise. `text` is how pgbouncer.ini and PgBouncer's SHOW CONFIG write it."""

    name: str
    value: int | str

    @property
    def text(self) -> str:
        return str(self.value)


def settings(plan: Plan, files: PoolerFiles, listen_port: int) -> list[IniSetting]:
    """The [pgbouncer] section, in file order: what `up` writes and `verify` expects."""
    pooler, pool, sec = plan.pooler, plan.pool, plan.security
    tls = _TLS_PROTOCOLS[sec.tls_min_version]
    pairs: list[tuple[str, int | str]] = [
        ("listen_addr", "127.0.0.1"),
        ("listen_port", listen_port),
        ("unix_socket_dir", ""),
        ("pool_mode", pooler.mode),
        ("max_client_conn", pooler.max_client_conn),
        ("default_pool_size", pooler.default_pool_size),
        ("reserve_pool_size", pooler.reserve_pool_size),
        ("reserve_pool_timeout", 1),
        ("max_db_connections", server_pool(plan)),
        # The clients' protocol-level prepared statements, kept per client and prepared on
        # whichever server connection runs them (0: off, and clients must not prepare).
        ("max_prepared_statements", pooler.max_prepared_statements),
        ("pkt_buf", PKT_BUF),
        ("query_wait_timeout", pool.connection_timeout_s),
        ("server_idle_timeout", pool.idle_timeout_s),
        ("server_lifetime", pool.max_lifetime_s),
        ("server_connect_timeout", 3),
        # After a failed server login PgBouncer waits this long before trying again (default
        # 15 s): short, so a failover costs seconds more, not fifteen.
        ("server_login_retry", 1),
        ("auth_type", "scram-sha-256"),
        ("auth_file", str(files.auth_file)),
        ("stats_users", plan.read_replica.read_user),
        ("client_tls_sslmode", "require"),
        ("client_tls_cert_file", str(files.server_cert)),
        ("client_tls_key_file", str(files.server_key)),
        ("client_tls_protocols", tls),
        ("client_tls_ciphers", tls_policy.TLS12_CIPHERS),  # Mozilla "intermediate"
        ("client_tls_ecdhcurve", tls_policy.ECDH_CURVE),
        ("server_tls_sslmode", "verify-full"),
        ("server_tls_ca_file", str(files.ca_cert)),
        ("server_tls_protocols", tls),
        ("ignore_startup_parameters", "extra_float_digits"),
        ("log_connections", int(plan.parameters.log_connections)),
        ("log_disconnections", int(plan.parameters.log_disconnections)),
    ]
    return [IniSetting(name, value) for name, value in pairs]


def pgbouncer_ini(plan: Plan, files: PoolerFiles, listen_port: int, primary_port: int,
                  read_port: int) -> str:
    """pgbouncer.ini pointing the write alias at `primary_port` and the read alias at
    `read_port` (the follower rewrites these two when the primary changes)."""
    pooler = plan.pooler
    db = plan.database.name
    per_db = (f"dbname={db} pool_size={pooler.default_pool_size} "
              f"reserve_pool={pooler.reserve_pool_size} max_db_connections={server_pool(plan)}")
    lines = [
        ";; Rendered by billdb from the plan (pooler.*, pool.*, security.*); `billdb up` and the",
        ";; pooler follower rewrite it (the follower repoints [databases] after a failover).",
        "[databases]",
        f"{db} = host=127.0.0.1 port={primary_port} {per_db}",
        f"{read_alias(plan)} = host=127.0.0.1 port={read_port} {per_db}",
        "",
        "[pgbouncer]",
        *(f"{s.name} = {s.text}".rstrip() for s in settings(plan, files, listen_port)),
        "",
    ]
    return "\n".join(lines)
