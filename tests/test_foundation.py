"""`billdb up`, `verify`, `status`, `dsn` against a real three-member environment."""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest

from conftest import Env

TABLES = ["customer_info", "bill_inquiry_history", "kos_inquiry_history", "bill_info_cache",
          "system_config"]


def _verify(env: Env) -> tuple[int, dict]:
    res = env.run("verify", "--json", check=False)
    return res.returncode, json.loads(res.stdout)


def test_verify_passes_with_many_checks(env: Env):
    code, report = _verify(env)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert code == 0 and report["ok"], failed
    assert len(report["checks"]) >= 60
    assert all({"id", "section", "expected", "actual", "ok"} <= set(c) for c in report["checks"])
    ids = {c["id"] for c in report["checks"]}
    for needed in ("db.encoding", "db.timezone", "db.data_checksums", "tls.plaintext_refused",
                   "param.shared_buffers", "priv.bill_app_user.customer_info",
                   "default_priv.bill_app_user.tables", "schema.indexes",
                   "seed.bill.cache.ttl.hours", "topology.sync_standby"):
        assert needed in ids


def test_second_up_changes_nothing(env: Env):
    res = env.run("up")
    assert "no changes" in res.stderr
    assert "changed " not in res.stderr


def test_status_lists_members_with_pids(env: Env):
    report = json.loads(env.run("status", "--json").stdout)
    assert report["state_dir"] == str(env.state_dir)
    roles = sorted(m["role"] for m in report["members"])
    assert roles == ["primary", "replica", "sync_standby"]
    for m in report["members"]:
        assert m["pid"] and m["patroni_pid"] and m["pid"] != m["patroni_pid"]
        assert m["data_dir"].startswith(str(env.state_dir))
        assert {"name", "state", "port", "lag_bytes", "timeline"} <= set(m)


def _psql(dsn: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", dsn, "-Atc", sql], capture_output=True, text=True, timeout=30)


def test_tls_is_required(env: Env):
    dsn = env.dsn("bill_app_user")
    assert "password" not in dsn and "sslmode=verify-full" in dsn
    ok = _psql(dsn, "select ssl from pg_stat_ssl where pid = pg_backend_pid()")
    assert ok.returncode == 0 and ok.stdout.strip() == "t", ok.stderr
    plain = _psql(dsn.replace("sslmode=verify-full", "sslmode=disable"), "select 1")
    assert plain.returncode != 0 and "no encryption" in plain.stderr
    old = _psql(dsn + "&ssl_min_protocol_version=TLSv1&ssl_max_protocol_version=TLSv1.1",
                "select 1")
    assert old.returncode != 0


@pytest.mark.parametrize("table", TABLES)
def test_app_user_dml_allowed_ddl_refused(env: Env, table: str):
    with psycopg.connect(env.dsn("bill_app_user")) as conn:
        cur = conn.cursor()
        if table == "customer_info":
            cur.execute("INSERT INTO customer_info (customer_id, line_number, operator_code, "
                        "expires_at) VALUES ('t-c1', '010-0000-0001', 'KT', now())")
            cur.execute("UPDATE customer_info SET status = 'INACTIVE' WHERE customer_id = 't-c1'")
            cur.execute("SELECT count(*) FROM customer_info WHERE customer_id = 't-c1'")
            assert cur.fetchone()[0] == 1
            cur.execute("DELETE FROM customer_info WHERE customer_id = 't-c1'")
        elif table in ("bill_inquiry_history", "kos_inquiry_history"):
            cur.execute("INSERT INTO bill_inquiry_history (request_id, user_id, line_number) "
                        "VALUES ('t-r1', 'u1', '010-0000-0001') RETURNING id")
            assert cur.fetchone()[0] > 0  # the sequence is usable
            cur.execute("INSERT INTO kos_inquiry_history (bill_request_id, line_number) "
                        "VALUES ('t-r1', '010-0000-0001')")
            cur.execute(f"UPDATE {table} SET line_number = '010-0000-0002'")
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] >= 1
            cur.execute("DELETE FROM bill_inquiry_history WHERE request_id = 't-r1'")
        elif table == "bill_info_cache":
            cur.execute("INSERT INTO bill_info_cache (cache_key, line_number, inquiry_month, "
                        "bill_info_json, expires_at) VALUES ('l:2026-01', 'l', '2026-01', "
                        "'v1:k1:' || repeat('A', 40), now())")  # a ciphertext envelope (V004)
            cur.execute("UPDATE bill_info_cache SET access_count = 2")
            cur.execute("DELETE FROM bill_info_cache WHERE cache_key = 'l:2026-01'")
        else:  # the plan's §13.1 CRUD test
            cur.execute("INSERT INTO system_config (config_key, config_value, description) "
                        "VALUES ('test.config', 'test_value', 'Test configuration')")
            cur.execute("UPDATE system_config SET config_value = 'v2' "
                        "WHERE config_key = 'test.config'")
            cur.execute("SELECT config_value FROM system_config WHERE config_key = 'test.config'")
            assert cur.fetchone()[0] == "v2"
            cur.execute("DELETE FROM system_config WHERE config_key = 'test.config'")
        conn.rollback()
    for ddl in (f"ALTER TABLE {table} ADD COLUMN x int", f"DROP TABLE {table}",
                f"TRUNCATE {table}", "CREATE TABLE app_owned (id int)",
                f"CREATE INDEX ON {table} (created_at)"):
        with psycopg.connect(env.dsn("bill_app_user")) as conn, pytest.raises(
                psycopg.errors.InsufficientPrivilege):
            conn.execute(ddl)


def test_readonly_user_reads_but_cannot_write(env: Env):
    with psycopg.connect(env.dsn("bill_readonly_user")) as conn:
        assert conn.execute("SELECT count(*) FROM system_config").fetchone()[0] >= 13
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO system_config (config_key, config_value) VALUES ('x', 'y')")


def test_backup_user_reads_everything(env: Env):
    with psycopg.connect(env.dsn("bill_backup_user")) as conn:
        for table in TABLES:
            conn.execute(f"SELECT * FROM {table} LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM system_config")


def test_hand_made_privilege_is_caught_and_repaired(env: Env):
    with psycopg.connect(env.dsn("admin"), autocommit=True) as conn:
        conn.execute("GRANT CREATE ON SCHEMA public TO bill_app_user")
    code, report = _verify(env)
    failed = [c["id"] for c in report["checks"] if not c["ok"]]
    assert code == 1 and failed == ["priv.bill_app_user.schema_public"]
    res = env.run("up")
    assert "privileges repaired" in res.stderr
    assert _verify(env)[0] == 0


def test_later_tables_get_default_privileges(env: Env):
    with psycopg.connect(env.dsn("admin"), autocommit=True) as conn:
        conn.execute("SET ROLE bill_owner")
        conn.execute("CREATE TABLE later_table (id bigserial PRIMARY KEY, v text)")
    try:
        with psycopg.connect(env.dsn("bill_app_user")) as conn:
            conn.execute("INSERT INTO later_table (v) VALUES ('x')")
            conn.rollback()
        with psycopg.connect(env.dsn("bill_readonly_user")) as conn:
            conn.execute("SELECT * FROM later_table")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO later_table (v) VALUES ('x')")
    finally:
        with psycopg.connect(env.dsn("admin"), autocommit=True) as conn:
            conn.execute("DROP TABLE later_table")


def test_secrets_are_private_and_never_printed(env: Env):
    secrets = env.state_dir / "secrets" / "secrets.json"
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    values = json.loads(secrets.read_text()).values()
    out = env.run("up")
    status = env.run("status", "--json")
    for text in (out.stdout, out.stderr, status.stdout, env.dsn("admin")):
        assert not any(v in text for v in values)


def test_dsn_rejects_unknown_role(env: Env):
    res = env.run("dsn", "--role", "nobody", check=False)
    assert res.returncode == 1 and "allowed: " in res.stderr and "Traceback" not in res.stderr
