"""The monitoring stack as programs of the environment's supervisord (docs/monitoring.md):
Prometheus, Alertmanager, node_exporter, one postgres_exporter per member, billdb's exporter
and billdb's webhook receiver. The `monitoring` step of `up` writes their files, makes the
least-privilege monitoring role and starts them; rerunning it changes nothing.

<state_dir>/monitoring/
  prometheus.yml, rules.yml, alertmanager.yml, queries.yaml   rendered, no secrets
  prometheus/, alertmanager/                                  their data (os_user)
  alerts.jsonl                                                the alert log (the receiver's)
  *.log                                                       program logs
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import quote

from billdb.context import Context
from billdb.converge import roles as role_resource
from billdb.engines import billdb_self, process
from billdb.engines.http import HttpError, request
from billdb.engines.secrets import SecretStore
from billdb.fsutil import write_atomic
from billdb.internal import MONITOR_USER
from billdb.monitoring import config, rules
from billdb.render.patroni import dcs_config
from billdb.state import cluster

PRIORITY = 500  # after the pooler; `down` stops the stack before the cluster


def root(ctx: Context) -> Path:
    return ctx.layout.state_dir / "monitoring"


def alert_log(ctx: Context) -> Path:
    return root(ctx) / "alerts.jsonl"


def enabled(ctx: Context) -> bool:
    return ctx.local.monitoring is not None


def _billdb(ctx: Context, *args: str) -> list[str]:
    return billdb_self.command(ctx.plan_path, "monitor", *args)


def _svc(ctx: Context, name: str, argv: list[str], *, user: bool = True,
         env: dict[str, str] | None = None) -> process.Service:
    d = root(ctx)
    return process.Service(name=name, argv=argv, pidfile=d / f"{name}.pid",
                           logfile=d / f"{name}.log", user=ctx.local.os_user if user else None,
                           env=env or {}, cwd=d, supervisor=ctx.layout.supervisor_dir,
                           priority=PRIORITY)


def monitor_password(ctx: Context) -> str:
    store = SecretStore(ctx.layout.secrets_file)
    store.ensure(store.password_key(MONITOR_USER))
    return store.role_password(MONITOR_USER)


def exporter_dsn(ctx: Context, port: int, password: str) -> str:
    """postgres_exporter's DSN: the monitoring role over verified TLS to the plan's database
    (where pg_stat_statements lives). Only in the 0600 program file's environment."""
    lay = ctx.layout
    return (f"postgresql://{MONITOR_USER}:{quote(password, safe='')}@127.0.0.1:{port}/"
            f"{ctx.plan.database.name}?sslmode=verify-full&sslrootcert={lay.ca_cert}"
            "&connect_timeout=3&application_name=postgres_exporter")


def services(ctx: Context) -> list[process.Service]:
    if not enabled(ctx):
        return []
    mon, d = ctx.local.monitoring, root(ctx)
    assert mon is not None
    out = [
        _svc(ctx, "prometheus", ["/usr/bin/prometheus", f"--config.file={d / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={d / 'prometheus'}",
                                 "--storage.tsdb.retention.time=7d", "--web.enable-lifecycle",
                                 f"--web.listen-address=127.0.0.1:{mon.prometheus_port}"]),
        _svc(ctx, "alertmanager", ["/usr/bin/prometheus-alertmanager",
                                   f"--config.file={d / 'alertmanager.yml'}",
                                   f"--storage.path={d / 'alertmanager'}",
                                   "--cluster.listen-address=",
                                   f"--web.listen-address=127.0.0.1:{mon.alertmanager_port}"]),
        _svc(ctx, "node-exporter", ["/usr/bin/prometheus-node-exporter", "--no-collector.systemd",
                                    f"--web.listen-address=127.0.0.1:{mon.node_exporter_port}"]),
    ]
    password = monitor_password(ctx) if ctx.layout.secrets_file.exists() else ""
    for m, port in zip(ctx.members, mon.postgres_exporter_ports, strict=True):
        out.append(_svc(ctx, f"postgres-exporter-{m.name}", [
            "/usr/bin/prometheus-postgres-exporter", f"--extend.query-path={d / 'queries.yaml'}",
            *config.EXPORTER_FLAGS,  # billdb's queries only (config.py says why)
            f"--web.listen-address=127.0.0.1:{port}"],
            env={"DATA_SOURCE_NAME": exporter_dsn(ctx, m.port, password)}))
    out.append(_svc(ctx, "billdb-exporter", _billdb(ctx, "exporter"), user=False,
                    env=billdb_self.env()))
    out.append(_svc(ctx, "alert-receiver", _billdb(ctx, "receiver"), user=False,
                    env=billdb_self.env()))
    return out


def mountpoint(path: Path) -> str:
    """The filesystem the state directory lives on (node_exporter's mountpoint label)."""
    p = path.resolve()
    while not os.path.ismount(p):
        p = p.parent
    return str(p)


def rendered_alerts(ctx: Context) -> list[rules.Alert]:
    return rules.all_alerts(ctx.plan, mountpoint(ctx.layout.state_dir), len(ctx.members),
                            bool(dcs_config(ctx.plan)["synchronous_mode"]))


def rendered(ctx: Context) -> dict[str, str]:
    d = root(ctx)
    alerts = rendered_alerts(ctx)
    return {
        "rules.yml": config.dump(rules.rule_file(alerts)),
        "prometheus.yml": config.dump(config.prometheus_config(ctx.local, d / "rules.yml")),
        "alertmanager.yml": config.dump(config.alertmanager_config(ctx.local)),
        "queries.yaml": config.queries_yaml(ctx.plan.server.postgres_version),
    }


def _write_files(ctx: Context) -> list[str]:
    d = root(ctx)
    uid = process.os_user(ctx.local.os_user).pw_uid
    for sub in (d, d / "prometheus", d / "alertmanager"):
        sub.mkdir(parents=True, exist_ok=True)
        os.chown(sub, uid, -1)
    changed = []
    for name, text in rendered(ctx).items():
        if write_atomic(d / name, text, 0o644):
            changed.append(name)
    return changed


def ensure_role(ctx: Context) -> list[str]:
    """billdb_monitor: LOGIN, member of pg_monitor only, CONNECT on the plan's database."""
    pw = monitor_password(ctx)
    notes = []
    db = ctx.plan.database.name
    with cluster.admin_connect(ctx) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                            (MONITOR_USER,)).fetchone():
            conn.execute(f'CREATE ROLE "{MONITOR_USER}" LOGIN NOINHERIT IN ROLE pg_monitor')
            notes.append(f"created {MONITOR_USER}")
        conn.execute(f'ALTER ROLE "{MONITOR_USER}" INHERIT CONNECTION LIMIT 10')
        conn.execute(f'GRANT CONNECT ON DATABASE "{db}" TO "{MONITOR_USER}"')
    with cluster.admin_connect(ctx, dbname=db) as conn:  # pg_stat_statements is in public
        conn.execute(f'GRANT USAGE ON SCHEMA public TO "{MONITOR_USER}"')
        conn.execute(f'GRANT SELECT ON public.pg_stat_statements TO "{MONITOR_USER}"')
    with cluster.admin_connect(ctx) as conn:
        if role_resource.converge_passwords(conn, {MONITOR_USER: pw}):
            notes.append(f"set the password of {MONITOR_USER}")
    return notes


def _reload(url: str) -> None:
    with contextlib.suppress(HttpError):  # not up yet: it reads its new file when it starts
        request("POST", url, timeout=5)


def ensure_step(ctx: Context) -> tuple[bool, str]:
    """The `monitoring` step of `up`."""
    if not enabled(ctx):
        return False, "no monitoring in the plan"
    mon = ctx.local.monitoring
    assert mon is not None
    notes = ensure_role(ctx)
    changed = _write_files(ctx)
    started = []
    for svc in services(ctx):
        _pid, now = process.start(svc)
        if now:
            started.append(svc.name)
    running = set(started)
    if any(f in changed for f in ("rules.yml", "prometheus.yml")) and "prometheus" not in running:
        _reload(f"http://127.0.0.1:{mon.prometheus_port}/-/reload")
    if "alertmanager.yml" in changed and "alertmanager" not in running:
        _reload(f"http://127.0.0.1:{mon.alertmanager_port}/-/reload")
    if "queries.yaml" in changed:
        for svc in services(ctx):
            if svc.name.startswith("postgres-exporter-") and svc.name not in running:
                process.stop(svc)
                process.start(svc)
    notes += [f"wrote {', '.join(changed)}"] if changed else []
    notes += [f"started {', '.join(started)}"] if started else []
    ui = f"http://127.0.0.1:{mon.prometheus_port}/"
    return bool(notes), "; ".join(notes) + f" ({ui})" if notes else f"running ({ui})"
