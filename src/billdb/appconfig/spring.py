"""`application-<env>.yml` for the service's two datasources (seed §7.2), with a comment on
every failover setting, and for prod the Kubernetes Secret its placeholders refer to."""

from __future__ import annotations

import json

from billdb.appconfig import (
    HIKARI_FAILOVER,
    KEYRING_ENV,
    PGJDBC_FAILOVER,
    SECRET_NAME,
    DataSource,
    Settings,
)

_HIKARI_KEYS = {"maximumPoolSize": "maximum-pool-size", "connectionTimeout": "connection-timeout",
                "idleTimeout": "idle-timeout", "maxLifetime": "max-lifetime",
                "keepaliveTime": "keepalive-time", "validationTimeout": "validation-timeout"}


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value)


def _datasource(s: Settings, d: DataSource, what: str) -> list[str]:
    lines = [f"    {d.name}:  # {what}",
             f"      jdbc-url: {_q(d.jdbc_url())}",
             f"      username: {d.user}",
             f"      password-file: {_q(s.secret_dir + '/' + d.password_env)}  # the "
             "mounted Secret, read per new connection",
             "      driver-class-name: org.postgresql.Driver",
             f"      pool-name: {d.name}"]
    why = {k: w for k, _, w in HIKARI_FAILOVER}
    for key, value in s.hikari.items():
        comment = f"  # {why[key]}" if key in why else "  # seed §5.2"
        lines.append(f"      {_HIKARI_KEYS[key]}: {value}{comment}")
    return lines


def application_yml(s: Settings) -> str:
    route = "PgBouncer (transaction mode)" if s.through_pooler else "the servers directly"
    head = [f"# application-{s.env}.yml: the Bill-Inquiry datasources (seed §7.2), rendered by",
            f"# `billdb app-config --format spring --env {s.env}` from the plan; through {route}.",
            "# jdbc-url parameters chosen for failover (pgjdbc):"]
    head += [f"#   {k}={v}: {w}" for k, v, w in PGJDBC_FAILOVER]
    head += ["#   targetServerType=primary (master) / preferSecondary (readonly): the multi-host",
             "#   URL is tried in order and pgjdbc keeps the server of the wanted role.",
             "#   sslmode=verify-full + sslrootcert: TLS, and the server's certificate and name",
             "#   are checked against the environment's CA.",
             "# HikariCP retries a failed connect with a growing pause: up to 5 s (HikariCP 4+),",
             "# up to min(10 s, connection-timeout) in 2.x; a write resumes within that pause",
             "# of the promotion, so keep the pool on a current HikariCP.",
             "# Each datasource is a SecretFileHikariDataSource bound to spring.datasource.<name>",
             "# (@ConfigurationProperties): a HikariDataSource whose getPassword() reads",
             "# password-file, so every new connection logs in with the Secret's current value",
             "# and open connections are left alone (docs/java-client.md)."]
    if s.through_pooler and s.pooler_prepares:
        name = "Azure's PgBouncer" if s.env == "prod" else "PgBouncer"
        head.append(f"#   pgjdbc prepares as usual: {name} keeps up to "
                    f"{s.plan.pooler.max_prepared_statements} prepared statements per client "
                    "(pgbouncer.max_prepared_statements).")
    elif s.through_pooler:
        head.append("#   prepareThreshold=0: the plan's PgBouncer keeps no prepared statements "
                    "(pooler.max_prepared_statements: 0).")
    body = ["spring:", "  datasource:"]
    body += _datasource(s, s.master, "writes: the zone pair's primary, as bill_app_user")
    body += _datasource(s, s.readonly, f"reads: the replica first, then the zone pair, as "
                        f"{s.readonly.user}")
    return "\n".join(head + body) + "\n"


def secret_manifest(s: Settings) -> str:
    """The Secret the placeholders name, with the keys to fill and no data."""
    keys = [s.master.password_env, s.readonly.password_env, KEYRING_ENV]
    lines = ["---",
             "# Fill these from the secrets store (never commit values). Mount the Secret as a",
             f"# volume at {s.secret_dir} (readOnly, defaultMode 0400, no subPath:",
             "# a subPath mount is never updated); the kubelet swaps its files atomically when",
             "# the Secret changes, and the datasources read the file for each new connection.",
             "apiVersion: v1", "kind: Secret", "metadata:", f"  name: {SECRET_NAME}",
             "type: Opaque", "stringData:"]
    lines += [f'  {k}: ""' for k in keys]
    return "\n".join(lines) + "\n"


def spring(s: Settings) -> str:
    text = application_yml(s)
    return text + secret_manifest(s) if s.env == "prod" else text
