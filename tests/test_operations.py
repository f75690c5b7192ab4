"""billdb audit security, checklists and test-plan against a real environment.

The four weakenings of the issue each fail their named control and `billdb up` repairs them;
archiving broken fails the daily backup item; 185 connections held earlier make the
connections item warn or fail; an ERROR of a new kind is flagged.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from ruamel.yaml import YAML

from billdb.engines.patroni import PatroniAPI
from billdb.operations import daily
from billdb.retry import wait_until
from billdb.state import cluster, metrics
from conftest import Env


@pytest.fixture(scope="module")
def env(fresh_env: Env) -> Env:
    """This file's own environment: its checks judge the last hours of alerts and history."""
    return fresh_env


def _audit(env) -> dict:
    res = env.run("audit", "security", "--json", check=False)
    doc = json.loads(res.stdout)
    assert res.returncode == (0 if doc["ok"] else 1)
    return doc


def _failing(doc: dict) -> set[str]:
    return {c["id"] for c in doc["controls"] if c["status"] == "fail"}


def test_audit_passes_weakenings_fail_and_up_repairs(env) -> None:
    doc = _audit(env)
    assert doc["count"] >= 50 and doc["ok"], _failing(doc)
    warned = {c["id"] for c in doc["controls"] if c["status"] == "warn"}
    assert warned <= {"roles.connection_limits"}
    assert all(c["evidence"] and c["reference"] for c in doc["controls"])
    ctx = env.context()
    lead = cluster.leader(ctx)
    with cluster.admin_connect(ctx, lead) as c:
        c.execute("ALTER ROLE bill_app_user SUPERUSER")
    with cluster.admin_connect(ctx, lead, dbname=ctx.plan.database.name) as c:
        c.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    os.chmod(ctx.layout.secrets_file, 0o644)
    cfg = ctx.layout.member(lead.name).config
    yaml = YAML()
    pcfg = yaml.load(cfg.read_text(encoding="utf-8"))
    pcfg["postgresql"]["pg_hba"].append("hostssl all bill_readonly_user 127.0.0.1/32 md5")
    with cfg.open("w", encoding="utf-8") as fh:
        yaml.dump(pcfg, fh)
    PatroniAPI(lead).reload()
    assert wait_until(lambda: "hba.no_weak_methods" in _failing(_audit(env)), timeout=30,
                      interval=2), "the md5 rule never came into force"
    failing = _failing(_audit(env))
    assert {"roles.no_superuser", "roles.superuser_count", "priv.public_schema_create",
            "files.secrets_file", "hba.no_weak_methods", "hba.scram_only"} <= failing
    env.run("up")
    assert wait_until(lambda: not _failing(_audit(env)), timeout=30, interval=2), \
        _failing(_audit(env))


def test_daily_checklist_and_its_failures(env) -> None:
    # A peak is a 30 s-step subquery: a Prometheus started less than a step ago has no
    # sample at the last step yet, and the checklist rightly says "not configured".
    ctx = env.context()
    since = datetime.now(UTC) - timedelta(hours=1)
    assert wait_until(lambda: None not in daily.resources(ctx, since)["evidence"].get(
        "peak_24h", {None: None}).values(), timeout=90, interval=5)
    res = env.run("checklist", "daily", "--json", check=False)
    first = json.loads(res.stdout)
    # exit 1 exactly when an item fails (the host's own CPU may: the suite shares its cores)
    assert res.returncode == (1 if any(i["status"] == "fail" for i in first["items"]) else 0)
    ids = [i["id"] for i in first["items"]]
    assert ids == ["availability", "resources", "backups", "slow_queries", "errors",
                   "connections"]
    assert len(ids) == len(first["plan_items"])
    by = {i["id"]: i for i in first["items"]}
    assert by["availability"]["status"] == "pass" and by["backups"]["status"] == "pass"
    peaks = by["resources"]["evidence"]["peak_24h"]  # from this environment's Prometheus
    assert set(peaks) == {"cpu_pct", "memory_pct", "disk_pct"}
    assert all(v is not None and 0 <= v <= 100 for v in peaks.values())
    assert by["connections"]["evidence"]["now"] >= 0
    assert by["connections"]["status"] != "fail", by["connections"]
    ctx = env.context()
    _hold_connections(ctx, 185)
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as c:
        c.execute("SELECT 1", prepare=False)
        with pytest.raises(Exception, match="billdb_no_such_fn_ops"):
            c.execute("SELECT billdb_no_such_fn_ops()")
    # Archiving broken: a failing archive_command on the primary, one WAL switch.
    with cluster.admin_connect(ctx) as c:
        c.execute("ALTER SYSTEM SET archive_command = '/bin/false'")
        c.execute("SELECT pg_reload_conf()")
        c.execute("SELECT pg_switch_wal()")
        c.execute("CREATE TABLE IF NOT EXISTS billdb_ops_probe (x int)")
        c.execute("SELECT pg_switch_wal()")
    try:
        def failed_now() -> bool:
            with cluster.admin_connect(ctx) as c:
                return c.execute("SELECT failed_count > 0 FROM pg_stat_archiver").fetchone()[0]
        assert wait_until(failed_now, timeout=60, interval=1), "archive_command never failed"
        res = env.run("checklist", "daily", "--json", check=False)
        assert res.returncode == 1
        second = {i["id"]: i for i in json.loads(res.stdout)["items"]}
        assert second["backups"]["status"] == "fail"
        assert "backup.archiving" in second["backups"]["evidence"]["failed"]
        conns = second["connections"]
        assert conns["status"] in ("warn", "fail") and conns["evidence"]["peak_24h"] >= 185, conns
        new = second["errors"]["evidence"]["new_kinds"]
        assert any("billdb_no_such_fn_ops" in k for k in new), new
    finally:
        with cluster.admin_connect(ctx) as c:
            c.execute("ALTER SYSTEM RESET archive_command")
            c.execute("SELECT pg_reload_conf()")
            c.execute("DROP TABLE IF EXISTS billdb_ops_probe")
            c.execute("SELECT pg_switch_wal()")

        def healthy() -> bool:
            with cluster.admin_connect(ctx) as c:
                return c.execute("SELECT last_archived_time > last_failed_time "
                                 "FROM pg_stat_archiver").fetchone()[0]
        assert wait_until(healthy, timeout=90, interval=1), "archiving did not recover"
    hist = json.loads(env.run("checklist", "history", "--json").stdout)["runs"]
    assert [r["kind"] for r in hist][-2:] == ["daily", "daily"]


def _hold_connections(ctx, n: int) -> None:
    """`n` client connections to the primary, held until Prometheus has scraped them."""
    uri = cluster.admin_uri(ctx, cluster.leader(ctx))
    with ThreadPoolExecutor(8) as pool:
        conns = list(pool.map(lambda _: psycopg.connect(uri, autocommit=True), range(n)))
    try:
        assert wait_until(lambda: (metrics.highest(ctx, "pg_billdb_backends_client", 1) or 0)
                          >= n, timeout=60, interval=2), "Prometheus never saw the connections"
    finally:
        for c in conns:
            c.close()


def test_test_plan_weekly_monthly(env) -> None:
    tp = json.loads(env.run("test-plan", "--duration", "5", "--json").stdout)
    by = {r["id"]: r for r in tp["results"]}
    assert set(by) == {"13.1.functional", "13.2.pgbench", "13.3.switchover", "13.3.pitr"}
    assert by["13.1.functional"]["conninfo"]["user"] == "bill_app_user"
    assert by["13.1.functional"]["conninfo"]["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert all(by["13.1.functional"]["crud"].values())
    assert by["13.2.pgbench"]["tps"] > 0 and by["13.3.switchover"]["write_gap_s"] < 60
    assert by["13.3.pitr"]["rows_match"] and by["13.3.pitr"]["amcheck_ok"]
    wk = json.loads(env.run("checklist", "weekly", "--json").stdout)
    wby = {i["id"]: i for i in wk["items"]}
    assert list(wby) == ["failover_test", "restore_test", "statements", "security_patches",
                         "capacity"]
    assert wby["failover_test"]["status"] == "pass"
    assert len(wby["failover_test"]["evidence"]["runs"]) == 2
    assert wby["restore_test"]["status"] == "pass"
    assert wby["capacity"]["evidence"]["connection_headroom"] > 0
    bouncer = wby["security_patches"]["evidence"]["versions"]["pgbouncer"]
    assert bouncer["installed"] and bouncer["installed"].startswith("1.2")  # Debian 13's source
    mo = json.loads(env.run("checklist", "monthly", "--json").stdout)
    mby = {i["id"]: i for i in mo["items"]}
    assert list(mby) == ["performance_review", "cost_review", "dr_plan_update",
                         "security_audit"]
    assert mby["security_audit"]["status"] == "pass"
    assert mby["dr_plan_update"]["evidence"]["restore"]["rto_met"] is True
