"""The monitoring stack on the live environment: verify's checks, and each §8.1 case end to end
(cause -> Prometheus -> Alertmanager -> billdb's receiver -> `billdb alerts`), within 2 min."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest

from billdb.engines import patroni, process
from billdb.ops.status import postmaster_pid
from billdb.retry import wait_until
from billdb.state import cluster
from conftest import BILLDB, Env

LIMIT_S = 120


@pytest.fixture(scope="module")
def env(fresh_env: Env) -> Env:
    """This file's own environment: its checks judge the last hours of alerts and history."""
    return fresh_env


def _alerts(env, since: str) -> list[dict]:
    return json.loads(env.run("alerts", "--json", "--since", since).stdout)["alerts"]


def _wait_alert(env, name: str, since: datetime, resolved: bool = False,
                limit: float = LIMIT_S) -> float:
    """Seconds until the alert log holds `name` firing (or resolved) after `since`."""
    t0 = time.monotonic()
    log = env.state_dir / "monitoring" / "alerts.jsonl"
    status = "resolved" if resolved else "firing"
    while time.monotonic() - t0 < limit:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        for line in lines:
            x = json.loads(line)
            if (x["alertname"] == name and x["status"] == status
                    and datetime.fromisoformat(x["received_at"]) >= since):
                return time.monotonic() - t0
        time.sleep(0.5)
    raise AssertionError(f"{name} not {status} within {limit} s: "
                         f"{env.run('alerts', check=False).stdout}")


def test_verify_has_the_monitoring_checks(env) -> None:
    report = json.loads(env.run("verify", "--json").stdout)
    ids = {c["id"]: c for c in report["checks"] if c["id"].startswith("monitoring.")}
    for job in ("prometheus.prometheus", "node.host", "billdb.billdb", "postgres.zone1",
                "patroni.replica"):
        assert ids[f"monitoring.target.{job}.up"]["ok"], ids.get(f"monitoring.target.{job}.up")
    assert ids["monitoring.rules.loaded"]["ok"] and ids["monitoring.rules.loaded"]["actual"] > 20
    for cid in ("monitoring.rules.healthy", "monitoring.alertmanager.reachable",
                "monitoring.receiver.reachable", "monitoring.role.billdb_monitor.least_privilege"):
        assert ids[cid]["ok"], ids[cid]
    status = json.loads(env.run("status", "--json").stdout)
    assert status["monitoring"]["prometheus_url"].startswith("http://127.0.0.1:")
    names = {s["name"] for s in status["services"]}
    assert {"prometheus", "alertmanager", "billdb-exporter", "alert-receiver"} <= names


def test_connections_alert_fires_at_180_and_resolves(env) -> None:
    ctx = env.context()
    uri = cluster.admin_uri(ctx, cluster.leader(ctx))
    start = datetime.now(UTC)
    with ThreadPoolExecutor(8) as pool:
        conns = list(pool.map(lambda _: psycopg.connect(uri, autocommit=True), range(180)))
    try:
        fired = _wait_alert(env, "PostgresConnectionsHigh", start)
    finally:
        for c in conns:
            c.close()
    resolved = _wait_alert(env, "PostgresConnectionsHigh", start, resolved=True)
    print(f"connections: held 180, logged firing after {fired:.1f} s, resolved {resolved:.1f} s")
    got = [a for a in _alerts(env, "10m") if a["alertname"] == "PostgresConnectionsHigh"]
    assert got and float(got[0]["value"]) >= 180 and got[0]["severity"] == "sev2"
    assert got[0]["section"] == "§8.1 connections" and got[0]["resolved"]


def test_failed_logins_alert_fires(env) -> None:
    ctx = env.context()
    port = cluster.leader(ctx).port
    start = datetime.now(UTC)
    attempts = [f"host=127.0.0.1 port={port} dbname=bill_inquiry_db user=bill_app_user "
                f"password=wrong sslmode={'disable' if i % 4 == 0 else 'require'} "
                "connect_timeout=3" for i in range(12)]  # wrong passwords and non-TLS tries
    for conninfo in attempts:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(conninfo).close()
    fired = _wait_alert(env, "FailedConnectionsHigh", start)
    print(f"failed logins: 12 attempts, logged firing after {fired:.1f} s")
    got = [a for a in _alerts(env, "5m") if a["alertname"] == "FailedConnectionsHigh"]
    assert got and got[0]["labels"]["member"] == cluster.leader(ctx).name


def test_standby_stopped_fires_the_standby_alert(env) -> None:
    ctx = env.context()
    svc = patroni.service(ctx.local, ctx.layout, ctx.member("replica"))
    start = datetime.now(UTC)
    process.stop(svc)  # through supervisord: Patroni stops its postmaster, nothing restarts it
    try:
        assert process.running_pid(svc) is None
        assert postmaster_pid(ctx.layout.member("replica").data) is None
        fired = _wait_alert(env, "StandbysMissing", start)
    finally:
        process.start(svc)
    resolved = _wait_alert(env, "StandbysMissing", start, resolved=True)
    print(f"standby stopped: logged firing after {fired:.1f} s, resolved {resolved:.1f} s")


def test_failover_fires_the_sev1_alert(env) -> None:
    start = datetime.now(UTC)
    t0 = time.monotonic()
    drill = subprocess.Popen([*_billdb(env), "drill", "failover", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fired = _wait_alert(env, "PostgresFailover", start)
        out, err = drill.communicate(timeout=300)
    finally:  # a failed wait must not leave the drill running against later environments
        if drill.poll() is None:
            drill.kill()
            drill.communicate(timeout=30)
    assert drill.returncode == 0, out + err
    report = json.loads(out)
    print(f"failover: logged firing {fired:.1f} s after the drill began "
          f"(rto {report['rto_s']} s), drill {time.monotonic() - t0:.1f} s")
    got = [a for a in _alerts(env, "5m") if a["alertname"] == "PostgresFailover"]
    assert got and got[0]["severity"] == "sev1" and got[0]["section"] == "§14.2 severity 1"


def test_reports_run_on_an_idle_and_a_busy_database(env) -> None:
    from billdb.monitoring import reports

    ctx = env.context()
    with cluster.admin_connect(ctx, cluster.leader(ctx)) as conn:
        conn.execute("DROP DATABASE IF EXISTS report_idle")
        conn.execute("CREATE DATABASE report_idle")
    try:
        with cluster.admin_connect(ctx, cluster.leader(ctx), dbname="report_idle") as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute('CREATE TABLE "Bill Lines" (id int)')  # a name that needs quoting
            conn.execute('CREATE INDEX "Bill Lines by id" ON "Bill Lines" (id)')
        for name in reports.FILES:
            reports.run(ctx, name, dbname="report_idle")  # idle: no division by zero
        assert reports.run(ctx, "database", dbname="report_idle")[0]["deadlocks"] == 0
        tables = [r["table"] for r in reports.run(ctx, "tables", dbname="report_idle")]
        assert 'public."Bill Lines"' in tables
        unused = reports.run(ctx, "unused-indexes", dbname="report_idle")
        assert {"table", "index", "scans", "size"} <= set(unused[0])
    finally:
        with cluster.admin_connect(ctx, cluster.leader(ctx)) as conn:
            conn.execute("DROP DATABASE IF EXISTS report_idle")
    for name in reports.FILES:  # the plan's database, busy with the probe and the tests
        doc = json.loads(env.run("report", name, "--json").stdout)
        assert doc["report"] == name and isinstance(doc["rows"], list)
    slow = json.loads(env.run("report", "slow-queries", "--json").stdout)["rows"]
    assert slow and "total_exec_time_ms" in slow[0] and "mean_exec_time_ms" in slow[0]
    conns = json.loads(env.run("report", "connections", "--json").stdout)["rows"]
    assert any(r["role"] == "billdb_monitor" for r in conns)


def test_html_report_renders_in_headless_chromium(env, tmp_path) -> None:
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("chromium not installed")
    page = tmp_path / "report.html"
    env.run("report", "html", "--hours", "1", "-o", str(page))
    assert page.stat().st_size > 1_000_000  # plotly.js is inlined
    # offline: every request would go to a proxy that does not exist
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,2400",
            "--virtual-time-budget=5000", "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>"]
    dom = subprocess.run([*argv, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert dom.count('class="main-svg"') >= 12  # 6 charts drawn (plotly: 2 svg layers each)
    assert dom.count('class="trace scatter') >= 8  # lines were drawn, not empty axes
    for title in ("Client connections", "Transactions per second", "Probe latency p99",
                  "Replication lag", "Backup age", "Alert timeline"):
        assert title in dom
    shot = tmp_path / "report.png"
    subprocess.run([*argv, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=60, check=True)
    assert shot.stat().st_size > 50_000  # a blank page is a few kB


def test_the_failover_is_one_sev1_incident_that_resolves(env) -> None:
    """The drill above: `billdb incidents` shows its sev1, confirmed by the receiver when it
    was notified (a new leader on a new timeline, the write route answering), resolved when
    the alert's 3-minute window has passed, inside the 30-minute target."""
    def incident() -> dict | None:
        doc = json.loads(env.run("incidents", "--json", check=False).stdout)
        got = [i for i in doc["incidents"] if i["alert"] == "PostgresFailover"]
        return got[-1] if got and got[-1]["resolved"] else None

    assert wait_until(lambda: incident() is not None, timeout=300, interval=5), \
        "the failover incident did not resolve"
    inc = incident()
    assert inc["severity"] == "sev1" and inc["target_met"] is True and inc["target_min"] == 30
    conf = inc["confirmation"]
    assert conf["write_route"] == "answers" and conf["timeline"] >= 2, conf
    assert conf["leader"] == cluster.leader_name(env.context()), conf
    print(f"failover incident: opened {inc['opened']}, resolved after {inc['duration_min']} min;"
          f" confirmed {conf}")


def _billdb(env) -> list[str]:
    return [BILLDB, "--plan", str(env.plan)]
