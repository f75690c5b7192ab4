"""The service's datasource settings (seed §7.2, §5.2), from the plan and one environment.

One model (`settings`) feeds every format, so the Spring file, the JSON for other tools, the
libpq variables and the Python client's profile never disagree. Passwords are never values:
each datasource names the environment variable holding its password (`${...}` placeholders),
filled from the secrets store locally and from a Kubernetes Secret in prod.

The failover settings are chosen for a crash of the primary, not pgjdbc's defaults: pgjdbc
remembers each host's role for `hostRecheckSeconds` (10 s by default), so a host it saw as a
standby just before the promotion would be skipped that long after it became the primary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from billdb.context import Context
from billdb.plan.models import Plan
from billdb.render.pgbouncer import read_alias

FORMATS = ("spring", "jdbc-json", "env", "client-json")
ENVS = ("local", "prod")
AZURE_DOMAIN = "postgres.database.azure.com"
AZURE_PORT, AZURE_POOLER_PORT = 5432, 6432
PROD_CA = "/etc/bill-inquiry/db-ca/root.crt"  # mounted in the pod (Azure's root CA bundle)
SECRET_NAME = "bill-inquiry-db"
# where the pod mounts the Secret as a volume (never with subPath: those are not updated)
PROD_SECRET_DIR = "/etc/bill-inquiry/db-secret"
KEYRING_ENV = "BILLDB_COLUMN_KEYRING"
APP_USER = "bill_app_user"
PROFILE_FILE = "client-profile.json"

# pgjdbc/HikariCP failover settings: (name, value, why). Rendered as comments in `spring`.
PGJDBC_FAILOVER: tuple[tuple[str, str, str], ...] = (
    ("hostRecheckSeconds", "1", "pgjdbc caches each host's role this long (default 10 s); a "
     "host seen as a standby just before the promotion would be skipped that long after it"),
    ("connectTimeout", "3", "seconds for the TCP connect to one host, so an unreachable "
     "member costs 3 s, not the OS's minutes, before the next host is tried"),
    ("loginTimeout", "5", "seconds for the whole login (TLS + SCRAM) to one server"),
    ("socketTimeout", "60", "seconds a read may block: a statement on a server that vanished "
     "without a reset fails instead of hanging (longer than any bill query)"),
    ("tcpKeepAlive", "true", "the kernel probes idle connections, so a dead peer is noticed "
     "even between queries"),
)
HIKARI_FAILOVER: tuple[tuple[str, int, str], ...] = (
    ("keepaliveTime", 30000, "HikariCP >= 4 pings idle connections every 30 s (its minimum), "
     "so a pool drops connections to a crashed primary before a request picks one"),
    ("validationTimeout", 2000, "ms for the liveness check on checkout: a dead connection is "
     "replaced within 2 s instead of the connectionTimeout"),
)


def password_key(user: str) -> str:
    """The Secret's key (and environment variable) holding a role's password."""
    return f"{user.upper()}_PASSWORD"


@dataclass(frozen=True)
class DataSource:
    """One §7.2 datasource: where, as whom, and the pool; the password only as a variable."""

    name: str
    hosts: list[tuple[str, int]]
    dbname: str
    user: str
    target: str  # pgjdbc targetServerType
    libpq_target: str  # libpq target_session_attrs
    params: dict[str, str]

    @property
    def password_env(self) -> str:
        return password_key(self.user)

    def jdbc_url(self) -> str:
        hosts = ",".join(f"{h}:{p}" for h, p in self.hosts)
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"jdbc:postgresql://{hosts}/{self.dbname}?{query}"


@dataclass(frozen=True)
class Settings:
    env: str
    through_pooler: bool
    sslrootcert: str
    passfile: str | None
    secrets_file: str | None
    hikari: dict[str, int]
    pooler_port: int
    routes_file: str | None  # the local stand-in for DNS that `up` and DR drills rewrite
    secret_dir: str  # the Secret volume the passwords are read from, one file per key
    master: DataSource
    readonly: DataSource
    plan: Plan
    # the pooler carries the clients' prepared statements (Azure's and the local PgBouncer,
    # when the plan sets pooler.max_prepared_statements)
    pooler_prepares: bool = False


def _endpoints(ctx: Context, env: str, through_pooler: bool) -> tuple[list, list, str, str]:
    """(master hosts, readonly hosts, master dbname, readonly dbname)."""
    plan, db = ctx.plan, ctx.plan.database.name
    if env == "prod":
        primary = (f"{plan.server.name}.{AZURE_DOMAIN}",)
        replica = (f"{plan.read_replica.name}.{AZURE_DOMAIN}",)
        port = AZURE_POOLER_PORT if through_pooler else AZURE_PORT
        # Azure's zone pair answers on one name that follows the primary; its PgBouncer
        # runs on each server, so the readonly pool reaches the replica's own.
        return [(primary[0], port)], [(replica[0], port), (primary[0], port)], db, db
    if through_pooler:
        hp = [("127.0.0.1", ctx.local.pooler_port)]
        return hp, hp, db, read_alias(plan)
    zones = [("127.0.0.1", m.port) for m in ctx.members if m.kind == "zone"]
    replicas = [("127.0.0.1", m.port) for m in ctx.members if m.kind == "replica"]
    return zones, replicas + zones, db, db


def settings(ctx: Context, env: str = "local", through_pooler: bool = False) -> Settings:
    """The datasource settings of `env`; raises ValueError for a choice the plan refuses."""
    if env not in ENVS:
        raise ValueError(f"--env must be one of {', '.join(ENVS)}, not {env!r}")
    plan = ctx.plan
    if through_pooler and not plan.pooler.enabled:
        raise ValueError("the plan disables the pooler (pooler.enabled: false)")
    lay = ctx.layout
    ca = PROD_CA if env == "prod" else str(lay.ca_cert)
    master_hosts, ro_hosts, db, ro_db = _endpoints(ctx, env, through_pooler)
    base = {"sslmode": "verify-full", "sslrootcert": ca,
            **{k: v for k, v, _ in PGJDBC_FAILOVER},
            "ApplicationName": plan.service.name}
    prepares = plan.pooler.max_prepared_statements > 0
    if through_pooler and not prepares:
        base["prepareThreshold"] = "0"  # transaction pooling: no server-side prepared stmts
    pool = plan.pool
    hikari = {"maximumPoolSize": pool.size, "connectionTimeout": pool.connection_timeout_s * 1000,
              "idleTimeout": pool.idle_timeout_s * 1000,
              "maxLifetime": pool.max_lifetime_s * 1000,
              **{k: v for k, v, _ in HIKARI_FAILOVER}}
    master = DataSource("master", master_hosts, db, APP_USER, "primary", "read-write",
                        {"targetServerType": "primary", **base})
    readonly = DataSource("readonly", ro_hosts, ro_db, plan.read_replica.read_user,
                          "preferSecondary", "prefer-standby",
                          {"targetServerType": "preferSecondary", **base})
    local = env == "local"
    return Settings(env, through_pooler, ca, str(lay.pgpass) if local else None,
                    str(lay.secrets_file) if local else None, hikari,
                    ctx.local.pooler_port if local else AZURE_POOLER_PORT,
                    str(lay.routes_file) if local else None,
                    str(lay.secret_volume) if local else PROD_SECRET_DIR, master, readonly,
                    plan, pooler_prepares=prepares)


def jdbc_json(s: Settings) -> dict[str, Any]:
    """The same settings as JSON: HikariCP property names, as Spring Boot binds them.
    `passwordFile` is the Secret volume's file, read again for every new connection (so a
    rotated Secret is followed without a restart, docs/java-client.md); `passwordEnv` is the
    same key as an environment variable, read once at start (no rotation)."""
    def one(d: DataSource) -> dict[str, Any]:
        return {"jdbcUrl": d.jdbc_url(), "username": d.user,
                "passwordFile": f"{s.secret_dir}/{d.password_env}",
                "password": f"${{{d.password_env}}}", "passwordEnv": d.password_env,
                "driverClassName": "org.postgresql.Driver", "hikari": dict(s.hikari)}

    return {"env": s.env, "throughPooler": s.through_pooler, "sslrootcert": s.sslrootcert,
            "datasources": {"master": one(s.master), "readonly": one(s.readonly)}}


def client_profile(s: Settings) -> dict[str, Any]:
    """The Python client's connection profile (billdb-client reads this, never the plan)."""
    p = s.plan
    enc = encrypted_columns(p)
    return {
        "version": 1, "env": s.env, "dbname": p.database.name,
        "application_name": p.service.name,
        "routes": {"write": [list(h) for h in s.master.hosts],
                   "read": [list(h) for h in s.readonly.hosts]},
        "read_dbname": s.readonly.dbname,
        "roles": {"write": s.master.user, "read": s.readonly.user},
        "pool": {"size": p.pool.size, "connection_timeout_s": p.pool.connection_timeout_s,
                 "statement_timeout_s": p.pool.statement_timeout_s,
                 "idle_timeout_s": p.pool.idle_timeout_s,
                 "max_lifetime_s": p.pool.max_lifetime_s},
        "through_pooler": s.through_pooler,
        "pooler": {"port": s.pooler_port, "read_dbname": read_alias(p),
                   "prepared_statements": s.pooler_prepares}
        if p.pooler.enabled else None,
        "routes_file": s.routes_file,
        "max_lag_bytes": p.read_replica.max_lag_bytes,
        "sslrootcert": s.sslrootcert, "passfile": s.passfile,
        "password_env": {s.master.user: s.master.password_env,
                         s.readonly.user: s.readonly.password_env},
        "keyring_file": s.secrets_file, "keyring_env": KEYRING_ENV,
        "encrypted_columns": enc,
    }


# The column whose value binds each encrypted column's ciphertext to its row (§10.2).
ROW_KEYS = {"customer_info": "customer_id", "bill_inquiry_history": "request_id",
            "bill_info_cache": "cache_key"}


def _row_key(column: str) -> str:
    table = column.split(".", 1)[0]
    if table not in ROW_KEYS:
        raise ValueError(f"security.column_encryption.columns: no row key known for {column!r} "
                         f"(tables: {', '.join(sorted(ROW_KEYS))})")
    return ROW_KEYS[table]


def libpq_env(s: Settings) -> str:
    """Shell lines for scripts: the master route as libpq variables (no password)."""
    d = s.master
    lines = ["# libpq settings of the master datasource; the password comes from PGPASSFILE"
             if s.passfile else "# libpq settings of the master datasource; set PGPASSWORD "
             f"from ${d.password_env} (Secret {SECRET_NAME})",
             f"export PGHOST={','.join(h for h, _ in d.hosts)}",
             f"export PGPORT={','.join(str(p) for _, p in d.hosts)}",
             f"export PGDATABASE={d.dbname}", f"export PGUSER={d.user}",
             "export PGSSLMODE=verify-full", f"export PGSSLROOTCERT={s.sslrootcert}",
             f"export PGTARGETSESSIONATTRS={d.libpq_target}", "export PGCONNECT_TIMEOUT=3",
             f"export PGAPPNAME={s.plan.service.name}"]
    if s.passfile:
        lines.append(f"export PGPASSFILE={s.passfile}")
    return "\n".join(lines) + "\n"


def secret_volume_values(plan: Plan, password: Callable[[str], str]) -> dict[str, str]:
    """What the local Secret volume holds: the two datasources' passwords by Secret key."""
    users = (APP_USER, plan.read_replica.read_user)
    return {password_key(u): password(u) for u in users}


def write_secret_volume(ctx: Context, password: Callable[[str], str]) -> bool:
    """`<state_dir>/secrets/secret-volume`: the service's Secret as a pod mounts it (0700
    directory, 0600 files, updated by an atomic `..data` switch); True when it changed."""
    from billdb import secret_volume

    return secret_volume.write(ctx.layout.secret_volume,
                               secret_volume_values(ctx.plan, password))


def encrypted_columns(plan: Plan) -> dict[str, str]:
    """Encrypted column -> the column binding its values to their row (§10.2)."""
    return {c: _row_key(c) for c in plan.security.column_encryption.columns}


def write_profile(ctx: Context) -> bool:
    """`<state_dir>/client-profile.json` (no secret inside, 0644): what billdb-client reads.
    True when the content changed."""
    from billdb.fsutil import write_atomic

    doc = client_profile(settings(ctx, "local"))
    return write_atomic(ctx.layout.state_dir / PROFILE_FILE, json.dumps(doc, indent=2) + "\n",
                        0o644)
