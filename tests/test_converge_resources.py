"""The satellite programs as converge resources (issue 19 item 3): each `checks` is pure, so
these run with no server; the live side is verify's and up's tests."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from billdb.converge import core, supervision
from billdb.converge import pgbackrest as backup_resource
from billdb.converge import pooler as pooler_resource
from billdb.engines.supervisor import Program, ProgramState
from billdb.plan.load import load_plan
from billdb.plan.models import Plan
from billdb.render import pgbouncer
from billdb.render.pgbackrest import conf_text
from billdb.state.pooler import ConfigRow

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "plans" / "bill-inquiry.yaml"
FILES = pgbouncer.PoolerFiles(*(Path(f"/x/{n}")
                                for n in ("userlist.txt", "ca.crt", "server.crt", "server.key")))


@functools.cache
def _plan() -> Plan:
    return load_plan(PLAN)


FIXED = {"listen_port", "pkt_buf", "unix_socket_dir", "listen_addr"}  # restart only


def _pooler_live(want: list[pgbouncer.IniSetting], **changed: str) -> pooler_resource.Observed:
    """SHOW CONFIG as PgBouncer writes it: every value text, `changed` ones replaced."""
    return pooler_resource.Observed({
        s.name: ConfigRow(s.name, changed.get(s.name, s.text), s.name not in FIXED)
        for s in want})


@pytest.mark.unit
def test_pooler_checks_compare_by_value_with_the_ids_verify_always_had():
    want = pgbouncer.settings(_plan(), FILES, 16432)
    got = {c.id: c for c in pooler_resource.checks(want, _pooler_live(want))}
    for key in ("pool_mode", "max_client_conn", "default_pool_size", "reserve_pool_size",
                "max_db_connections", "max_prepared_statements", "pkt_buf",
                "client_tls_sslmode", "server_tls_sslmode", "auth_type"):
        assert got[f"pooler.{key}"].ok, got[f"pooler.{key}"]
    assert all(c.ok and c.section == "§5.2 connection pool" for c in got.values())
    # typed as the plan types them: a count is a number on both sides
    assert got["pooler.max_client_conn"].expected == 2000
    assert got["pooler.max_client_conn"].actual == 2000
    assert got["pooler.pool_mode"].actual == "transaction"


@pytest.mark.unit
def test_pooler_drift_names_the_setting_and_whether_a_reload_is_enough():
    want = pgbouncer.settings(_plan(), FILES, 16432)
    live = _pooler_live(want, max_client_conn="100", pool_mode="session")
    drifts = core.diff(pooler_resource.checks(want, live))
    assert [(d.id, d.expected, d.actual) for d in drifts] == [
        ("pooler.pool_mode", "transaction", "session"), ("pooler.max_client_conn", 2000, 100)]
    assert not pooler_resource._restart_needed(live, drifts, ini_changed=True)
    fixed = _pooler_live(want, pkt_buf="4096")
    assert pooler_resource._restart_needed(
        fixed, core.diff(pooler_resource.checks(want, fixed)), ini_changed=False)


@pytest.mark.unit
def test_pooler_console_unreachable_is_one_check():
    want = pgbouncer.settings(_plan(), FILES, 16432)
    found = pooler_resource.Observed({}, "connection refused")
    [check] = pooler_resource.checks(want, found)
    assert (check.id, check.expected, check.actual, check.ok) == (
        "pooler.config", "readable", "connection refused", False)
    assert pooler_resource._restart_needed(found, [], ini_changed=True)
    assert not pooler_resource._restart_needed(found, [], ini_changed=False)


# --- pgBackRest ---------------------------------------------------------------------------

def _backup_want() -> list:
    from billdb.layout import Layout
    from billdb.render.pgbackrest import RepoSecrets

    return backup_resource.desired(_plan(), Layout(Path("/x/state")),
                                   RepoSecrets("pass-1", "pass-2", "azure-key"))


@pytest.mark.unit
def test_pgbackrest_config_is_checked_option_by_option_without_showing_a_secret():
    want = _backup_want()
    text = conf_text(want)
    ciphers = {1: "aes-256-cbc", 2: "aes-256-cbc"}  # pgbackrest info's repo[].cipher
    same = backup_resource.Observed(backup_resource.parse(text), 0o640, ciphers)
    assert all(c.ok for c in backup_resource.checks(want, same))
    assert [c.id for c in backup_resource.checks(want, same)] == [
        "backup.config", "backup.repo1.encrypted", "backup.repo2.encrypted"]
    edited = (text.replace("repo1-retention-full=35", "repo1-retention-full=7")
              .replace("pass-2", "leaked") + "process-max=8\n")
    found = backup_resource.Observed(backup_resource.parse(edited), 0o644,
                                     {1: None, 2: "aes-256-cbc"})
    config, enc1, enc2 = backup_resource.checks(want, found)
    assert not config.ok and "leaked" not in config.actual and "pass-2" not in config.actual
    assert config.actual == ("differs: bill-inquiry/process-max, global/repo1-retention-full, "
                             "global/repo2-cipher-pass, mode 0o644")
    assert (enc1.ok, enc1.expected, enc1.actual, enc2.ok) == (False, "aes-256-cbc", None, True)
    missing = backup_resource.Observed(None, None, {})
    assert backup_resource.config_check(want, missing).actual == "missing, mode None"


@pytest.mark.unit
def test_pgbackrest_conf_is_written_from_the_typed_options():
    want = _backup_want()
    assert backup_resource.parse(conf_text(want)) == [
        type(o)(o.section, o.key, o.text) for o in want]
    secret = [o.key for o in want if o.secret]
    assert secret == ["repo1-cipher-pass", "repo2-azure-key", "repo2-cipher-pass"]


# --- supervised programs -----------------------------------------------------------------

def _program(name: str) -> Program:
    return Program(name, ["/bin/true"], Path(f"/x/{name}.log"), None, {}, None, 100, 10, 1)


@pytest.mark.unit
def test_each_supervised_program_is_checked_running():
    want = [_program("etcd"), _program("patroni-zone1"), _program("pgbouncer")]
    found = supervision.Observed({
        "etcd": ProgramState("etcd", "RUNNING", 41, ""),
        "patroni-zone1": ProgramState("patroni-zone1", "BACKOFF", 0,
                                                  "Exited too quickly"),
        "other": ProgramState("other", "STOPPED", 0, "")})
    got = {c.id: c for c in supervision.checks(want, found)}
    assert list(got) == ["supervise.etcd.running", "supervise.patroni-zone1.running",
                         "supervise.pgbouncer.running"]
    assert got["supervise.etcd.running"].ok
    assert got["supervise.etcd.running"].actual == "RUNNING (pid 41)"
    assert [(c.ok, c.actual) for c in list(got.values())[1:]] == [
        (False, "BACKOFF: Exited too quickly"), (False, "not known to supervisord")]
    [down] = supervision.checks(want, supervision.Observed(None))
    assert (down.id, down.ok) == ("supervise.supervisord", False)


@pytest.mark.unit
def test_supervised_programs_are_the_services_supervisord_runs(tmp_path: Path):
    from billdb.engines.process import Service

    sup = Service(name="pgbouncer", argv=["/bin/true"], pidfile=tmp_path / "p.pid",
                  logfile=tmp_path / "p.log", supervisor=tmp_path / "supervisor")
    loose = Service(name="restored copy x", argv=["/bin/true"], pidfile=tmp_path / "r.pid",
                    logfile=tmp_path / "r.log")
    assert [p.name for p in supervision.desired([sup, loose])] == ["pgbouncer"]


# --- monitoring (the satellite's own resource, same shape) -------------------------------

@pytest.mark.unit
def test_prometheus_checks_every_rendered_target_and_rule():
    from billdb.monitoring import config
    from billdb.monitoring import resource as mon

    targets = config.scrape_targets(_plan().environments.local)
    want = mon.Desired(targets, ["PostgresDown", "ReplicationLag", "ReplicationLag"])
    up = {(t.job, t.name): mon.Health("up", "") for t in targets}
    ok = mon.Health("ok", "")
    found = mon.Observed(up, [("PostgresDown", ok), ("ReplicationLag", ok),
                              ("ReplicationLag", ok)])
    got = {c.id: c for c in mon.checks(want, found)}
    assert all(c.ok for c in got.values())
    assert {"monitoring.target.postgres.zone1.up", "monitoring.target.patroni.replica.up",
            "monitoring.target.node.host.up", "monitoring.target.billdb.billdb.up"} <= set(got)
    assert got["monitoring.rules.loaded"].actual == 3
    down = {**up, ("patroni", "zone2"): mon.Health("down", "connection refused")}
    del down[("postgres", "replica")]
    found = mon.Observed(down, [("PostgresDown", mon.Health("err", "bad expr")),
                                ("ReplicationLag", ok), ("Other", ok)])
    bad = {c.id: c for c in mon.checks(want, found) if not c.ok}
    assert bad["monitoring.target.patroni.zone2.up"].actual == "down (connection refused)"
    assert bad["monitoring.target.postgres.replica.up"].actual == "not scraped"
    assert bad["monitoring.rules.loaded"].actual == "3 (missing: ReplicationLag)"
    assert bad["monitoring.rules.healthy"].actual == "PostgresDown: bad expr"
    nothing = mon.checks(want, mon.Observed({}, []))
    assert [c.id for c in nothing if not c.ok] == [
        "monitoring.prometheus.reachable", "monitoring.rules.loaded"]
