"""`billdb plan lint`: small broken plans and documents, and the exact findings they give.

The findings that need a server come from a real scratch PostgreSQL 15 (one for the whole
module); the CLI runs start their own, as a user's run does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from datetime import date
from pathlib import Path

import psycopg
import pytest

from billdb.engines import process
from billdb.errors import BilldbError
from billdb.lint import eol, lint_document, lint_plan
from billdb.state.scratch import remove_stale, scratch_server
from conftest import PLAN, ROOT, billdb, write_plan

TODAY = date(2026, 11, 27)
SEED = ROOT.parent / "shared" / "seed" / "db-plan-bill-inquiry-prod.md"


@pytest.fixture(scope="module")
def scratch():
    with scratch_server(15, "/usr/lib/postgresql/15/bin",
                        ["pg_stat_statements", "pgaudit"]) as server:
        yield server


def ids(report: dict, severity: str | None = None) -> set[str]:
    return {f["id"] for f in report["findings"] if severity in (None, f["severity"])}


def by_id(report: dict, fid: str) -> list[dict]:
    return [f for f in report["findings"] if f["id"] == fid]


# --- the YAML plan ---------------------------------------------------------------------

def test_shipped_plan_has_warnings_but_no_error(scratch):
    report = lint_plan(PLAN, TODAY, scratch=scratch)
    assert report["ok"], ids(report, "error")
    assert {"version.eol_soon", "azure.unsupported_setting"} <= ids(report, "warning")
    # the replica is as large as the primary now (Azure requires at least the primary's
    # compute): its memory budget holds
    assert "budget.replica_memory" not in ids(report)
    assert all(f["section"].startswith("§") and f["fix"] for f in report["findings"])


def _set(*path, value):
    def mutate(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


@pytest.mark.parametrize(("mutate", "errors"), [
    (_set("server", "postgres_version", value=14), {"version.eol"}),
    (_set("service", "display_name", value="see postgresql://bill_app_user:S3cret-pw@db/x"),
     {"secret.in_plan"}),
    (_set("parameters", "work_mem", value="64MB"), {"budget.memory"}),
    (_set("pooler", "enabled", value=False), {"budget.connections"}),
    (_set("pooler", "default_pool_size", value=150), {"budget.connections"}),
    (_set("service", "max_pods", value=200), {"budget.pooler_clients"}),
    (_set("backup", "archive_timeout_s", value=600), {"targets.rpo"}),
    (_set("monitoring", "connections", value=200), {"targets.connection_alert"}),
    (_set("backup", "geo_region", value="japaneast"), {"azure.geo_region"}),
    (_set("server", "storage_gb", value=300), {"azure.unsupported_setting"}),
])
def test_broken_plan_gives_exactly_its_error(scratch, tmp_path, mutate, errors):
    plan = write_plan(tmp_path / "plan.yaml", tmp_path / "state", mutate=mutate)
    report = lint_plan(plan, TODAY, scratch=scratch)
    assert ids(report, "error") == errors
    assert not report["ok"]


def test_secret_in_a_comment_is_found_with_its_line(scratch, tmp_path):
    plan = write_plan(tmp_path / "plan.yaml", tmp_path / "state")
    text = plan.read_text().replace("pool:", "# admin_password: Hunter2-prod\npool:", 1)
    plan.write_text(text)
    report = lint_plan(plan, TODAY, scratch=scratch)
    [hit] = by_id(report, "secret.in_plan")
    assert text.splitlines()[hit["line"] - 1] == "# admin_password: Hunter2-prod"
    assert "Hunter2" not in json.dumps(report)  # the secret itself is never printed


# --- Markdown documents ------------------------------------------------------------------

def _doc(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plan.md"
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def _lint(scratch, tmp_path, body: str) -> dict:
    return lint_document(_doc(tmp_path, body), PLAN, TODAY, scratch=scratch)


def test_sql_error_comes_from_executing_the_block(scratch, tmp_path):
    report = _lint(scratch, tmp_path, """
        # Plan
        ## 8. Monitoring
        ### 8.2 Slow queries
        ```sql
        SELECT query, calls
        FROM pg_stat_statements;

        SELECT query, calls, total_time
        FROM pg_stat_statements ORDER BY total_time DESC;
        ```
        """)
    assert ids(report) == {"doc.sql_error"}
    [f] = report["findings"]
    assert (f["section"], f["line"], f["source"]) == ("§8.2", 8, "executed")
    assert 'column "total_time" does not exist' in f["message"]
    assert "total_exec_time" in f["fix"]
    assert report["server"]["statements_executed"] == 2


def test_restart_parameters_applied_with_a_reload(scratch, tmp_path):
    report = _lint(scratch, tmp_path, """
        ## 5.1 Parameters
        ```sql
        ALTER SYSTEM SET shared_buffers = '1GB';
        ALTER SYSTEM SET work_mem = '8MB';
        SELECT pg_reload_conf();
        ```
        """)
    assert ids(report) == {"param.restart_with_reload"}
    [f] = report["findings"]
    assert f["section"] == "§5.1" and f["line"] == 5
    assert "pending_restart = true for shared_buffers" in f["message"]  # the server said so
    assert "work_mem" not in f["message"]


def test_unknown_parameter_and_extension_names(scratch, tmp_path):
    report = _lint(scratch, tmp_path, """
        ## 10.3 Audit
        ```sql
        ALTER SYSTEM SET log_statement = 'all';
        -- CREATE EXTENSION pg_audit;
        -- ALTER SYSTEM SET pg_audit.log = 'write,ddl';
        ```
        """)
    assert ids(report) == {"param.log_statement_all", "extension.unknown", "param.unknown"}
    [ext] = by_id(report, "extension.unknown")
    [par] = by_id(report, "param.unknown")
    assert "'pgaudit'" in ext["fix"] and "'pgaudit.log'" in par["fix"]
    assert 'extension "pg_audit" is not available' in ext["message"]


def test_credentials_grant_order_and_schema_owner(scratch, tmp_path):
    report = _lint(scratch, tmp_path, """
        ## 4.2 Users
        ```sql
        CREATE USER bill_app_user WITH PASSWORD 'Complex#Password#2025!';
        GRANT USAGE ON SCHEMA public TO bill_app_user;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO bill_app_user;
        CREATE ROLE bill_auditor;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO bill_auditor;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO bill_auditor;
        ```
        ## 6.1 Schema
        ```bash
        ADMIN_PASSWORD="Complex#PostgreSQL#2025!"
        psql -h db.example -U bill_app_user -d bill_inquiry_db -f schema.psql
        ```
        """)
    assert ids(report) == {"doc.credential", "doc.grant_before_object",
                           "doc.select_without_usage", "doc.default_privileges_scope",
                           "doc.schema_as_app_role", "doc.sql_error"}
    assert sorted(f["line"] for f in by_id(report, "doc.credential")) == [3, 12]
    [grant] = by_id(report, "doc.grant_before_object")
    assert grant["message"].startswith("lines 5, 7:") and "§6.1" in grant["message"]
    [err] = by_id(report, "doc.sql_error")
    assert err["section"] == "§6.1" and "permission denied for schema public" in err["message"]
    assert "Complex#" not in json.dumps(report)


def test_az_commands_against_the_cli_definitions(scratch, tmp_path):
    report = _lint(scratch, tmp_path, """
        ## 12.3 Script
        ```bash
        az postgres flexible-server create -g rg --name srv --version 15 \\
            --high-availability ZoneRedundant --storage-auto-grow Sometimes
        az postgres flexible-server vnet-rule create -g rg --server-name srv --name r
        az postgres flexible-server parameter set -g rg --server-name srv \\
            --name backup_retention_days --value 35
        az postgres flexible-server parameter set -g rg --server-name srv \\
            --name log_min_duration_statement --value 1000
        az network vnet list
        ```
        """)
    assert ids(report) == {"doc.az_unknown_option", "doc.az_bad_value",
                           "doc.az_unknown_command", "doc.az_not_a_parameter",
                           "doc.az_unchecked"}
    [param] = by_id(report, "doc.az_not_a_parameter")
    assert param["line"] == 6 and "--backup-retention" in param["fix"]
    assert "--zonal-resiliency" in by_id(report, "doc.az_unknown_option")[0]["fix"]


def test_clean_document_has_no_finding_and_leaves_the_server_as_it_was(scratch, tmp_path):
    body = """
        ## 4.1 Database
        ```sql
        CREATE DATABASE bill_inquiry_db TEMPLATE template0 ENCODING 'UTF8';
        \\c bill_inquiry_db
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
        ```
        ## 6.1 Schema
        ```bash
        psql -U postgres -d bill_inquiry_db -f schema.psql
        ```
        ## 6.2 Grants
        ```sql
        CREATE ROLE bill_reader;
        GRANT USAGE ON SCHEMA public TO bill_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO bill_reader;
        ALTER SYSTEM SET work_mem = '16MB';
        SELECT pg_reload_conf();
        SELECT config_key FROM system_config WHERE is_active;
        SELECT query, total_exec_time FROM pg_stat_statements ORDER BY 2 DESC LIMIT 10;
        ```
        """
    first = _lint(scratch, tmp_path, body)
    assert first["findings"] == []
    assert first["server"]["statements_executed"] == 10
    again = _lint(scratch, tmp_path, body)  # idempotent: nothing was left behind
    assert again["findings"] == []
    with psycopg.connect(scratch.conninfo(), autocommit=True) as conn:
        dbs = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        assert dbs == {"postgres", "template0", "template1"}
        assert conn.execute("SHOW work_mem").fetchone()[0] == "4MB"
        assert not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'bill_reader'").fetchone()


# --- the command line (each run starts and removes its own scratch server) -------------

def test_cli_plan_lint_on_our_plan_exits_0_with_json_only_on_stdout():
    res = billdb("plan", "lint", "--today", str(TODAY), "--json", check=False)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] and report["counts"]["warning"] > 0
    assert report["server"]["postgres_major"] == 15


@pytest.mark.skipif(not SEED.exists(), reason="shared/seed is not beside this clone")
def test_cli_document_lint_on_the_seed_exits_1_with_its_defects(monkeypatch):
    # A TMPDIR of its own: other workers' lints make and remove scratch servers in /tmp.
    tmp = Path(tempfile.mkdtemp(prefix="billdb-lint-test-"))
    tmp.chmod(0o755)  # the scratch server runs as postgres
    monkeypatch.setenv("TMPDIR", str(tmp))
    res = billdb("plan", "lint", "--document", str(SEED), "--today", str(TODAY), "--json",
                 check=False)
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    found = ids(report)
    assert {"version.eol", "doc.credential", "param.restart_with_reload", "doc.sql_error",
            "extension.unknown", "param.unknown", "param.log_statement_all",
            "doc.default_privileges_scope", "doc.grant_before_object",
            "doc.select_without_usage", "doc.schema_as_app_role", "budget.memory",
            "budget.connections", "doc.az_unknown_command", "doc.az_not_a_parameter",
            "azure.alter_system", "targets.availability", "targets.rpo",
            # the platform's rules, each citing Microsoft's documentation
            "azure.replica_compute", "azure.vnet_peering", "azure.nsg_for_aks_only",
            "azure.failover_time", "azure.reserved_compute_only", "azure.rpo_alert",
            "azure.alert_operator", "azure.logs_retained", "azure.dump_network_path",
            "azure.identity_principal"} <= found
    executed = [f for f in by_id(report, "doc.sql_error") if f["section"] == "§8.2"]
    assert executed and executed[0]["source"] == "executed"
    assert "total_time" in executed[0]["message"]
    assert list(tmp.iterdir()) == []  # its scratch server is gone
    tmp.rmdir()


def test_cli_table_output_and_bad_document_path(tmp_path):
    res = billdb("plan", "lint", "--today", str(TODAY), check=False)
    assert res.returncode == 0 and "version.eol_soon" in res.stdout
    res = billdb("plan", "lint", "--document", str(tmp_path / "missing.md"), check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_a_killed_lint_leaves_nothing_behind_after_the_next_one(tmp_path):
    """SIGKILL a process that holds a scratch server; the next lint stops it and cleans up."""
    code = ("import time; from billdb.state.scratch import scratch_server\n"
            "with scratch_server(15, '/usr/lib/postgresql/15/bin', []) as s:\n"
            "    print(s.root, flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    root = Path(holder.stdout.readline().strip())
    server_pid = int((root / "postgres.pid").read_text())
    holder.kill()
    holder.wait()
    assert process.alive(server_pid)  # orphaned: nobody stopped it
    assert remove_stale() >= 1
    assert not root.exists() and not process.alive(server_pid)


# --- "today" is injected, never the calendar's -----------------------------------------

@pytest.mark.unit
@pytest.mark.parametrize(("version", "today", "found"), [
    (14, date(2026, 11, 11), "version.eol_soon"),
    (14, date(2026, 11, 12), "version.eol"),
    (15, date(2026, 11, 27), "version.eol_soon"),
    (15, date(2026, 11, 10), None),  # more than a year before 2027-11-11
    (15, date(2027, 11, 11), "version.eol"),
    (9, date(2026, 1, 1), "version.unknown"),
])
def test_end_of_life_is_judged_on_the_given_day(version, today, found):
    got = eol.check(version, "§2.1", today)
    assert [f.id for f in got] == ([found] if found else [])
    if found == "version.eol":
        assert str(today) in got[0].message


@pytest.mark.unit
@pytest.mark.parametrize(("version", "today", "found", "dates"), [
    # 15: both windows end 2027-11-11, 340 days after the install day
    (15, date(2026, 12, 6), "version.eol_soon", ("2027-11-11", "2027-11-11")),
    # 14: community support over, Azure's standard support still 29 days: an error all the same
    (14, date(2026, 11, 12), "version.eol", ("2026-11-12", "2026-12-11")),
    (17, date(2026, 12, 6), None, ()),
])
def test_support_window_names_both_dates_and_their_sources(version, today, found, dates):
    got = eol.check(version, "§2.1", today)
    assert [f.id for f in got] == ([found] if found else [])
    if found:
        msg = got[0].message
        assert f"community support ends {dates[0]}" in msg
        assert f"Azure standard support ends {dates[1]}" in msg
        assert "postgresql.org/support/versioning" in msg and "learn.microsoft.com" in msg


@pytest.mark.unit
def test_today_comes_from_the_option_then_the_environment(monkeypatch):
    from billdb.cli.common import TODAY_ENV, today

    monkeypatch.setenv(TODAY_ENV, "2030-01-02")
    assert today("2026-11-27") == date(2026, 11, 27)
    assert today(None) == date(2030, 1, 2)
    monkeypatch.delenv(TODAY_ENV)
    assert today(None) == date.today()
    with pytest.raises(BilldbError, match="--today must be a date YYYY-MM-DD"):
        today("27/11/2026")
    monkeypatch.setenv(TODAY_ENV, "soon")
    with pytest.raises(BilldbError, match="BILLDB_TODAY"):
        today(None)


def test_cli_lint_judges_end_of_life_on_billdb_today(tmp_path):
    """The same plan: supported in 2025, past end of life once BILLDB_TODAY says 2028."""
    import os

    base = [str(Path(sys.executable).parent / "billdb"), "plan", "lint", "--json"]
    for day, ok, fid in (("2025-06-01", True, None), ("2028-01-01", False, "version.eol")):
        res = subprocess.run(base, capture_output=True, text=True, cwd=ROOT, timeout=120,
                             env={**os.environ, "BILLDB_TODAY": day})
        report = json.loads(res.stdout)
        assert report["today"] == day and report["ok"] is ok, res.stderr
        assert (fid in ids(report, "error")) if fid else not ids(report, "error")
    res = billdb("plan", "lint", "--today", "tomorrow", check=False)
    assert res.returncode == 2 and "--today must be a date" in res.stderr
