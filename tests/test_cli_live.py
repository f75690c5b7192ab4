"""Issue 20 on the session's real environment: every reporting command's --json in success and
failure, one instant for one naive time, text at 80 columns, and the table's rows 4-13."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billdb import times
from conftest import BILLDB, ROOT, Env, write_plan

# Every command that reports (prints a result rather than changing the system).
REPORTING = [("status",), ("verify",), ("backup", "list"), ("backup", "schedule"),
             ("restore", "list"), ("dump", "list"), ("alerts",), ("incidents",),
             ("report", "slow-queries"), ("report", "database"), ("report", "tables"),
             ("report", "unused-indexes"), ("report", "connections"), ("checklist", "history"),
             ("checklist", "daily", "--dry-run"), ("keys", "status"), ("pooler", "status"),
             ("partitions", "list"), ("audit", "security"), ("cost",)]
# What Python prints and people should never see.
PYTHON = re.compile(r"\{'|'\}|\[\(|\(\('|\bNone\b|\bTrue\b|\bFalse\b|datetime\.|timedelta\(")


def billdb(env: Env, *args: str, columns: int | None = None
           ) -> subprocess.CompletedProcess[str]:
    extra = {"COLUMNS": str(columns)} if columns else {}
    return subprocess.run([BILLDB, "--plan", str(env.plan), *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env={**os.environ, **extra})


def test_every_reporting_command_prints_json_on_success_and_failure(env: Env, tmp_path) -> None:
    bad = write_plan(tmp_path / "typo.yaml", tmp_path / "state",
                     mutate=lambda d: d["database"].__setitem__("timezone", "Asia/Soeul"))
    for args in REPORTING:
        res = billdb(env, *args, "--json")
        assert res.returncode in (0, 1), (args, res.stderr)
        doc = json.loads(res.stdout)  # one document, also when a check failed (exit 1)
        assert "error" not in doc, (args, doc)
        assert "Traceback" not in res.stderr
        res = subprocess.run([BILLDB, "--plan", str(bad), *args, "--json"], capture_output=True,
                             text=True, timeout=120, cwd=ROOT)
        assert res.returncode == 2, (args, res.stderr)
        err = json.loads(res.stdout)
        assert err["ok"] is False and err["error"]["kind"] == "plan", args
        assert err["error"]["field"] == "database.timezone" and err["error"]["line"] > 0


def test_no_reporting_command_shows_python_syntax(env: Env) -> None:
    for args in REPORTING:
        res = billdb(env, *args, columns=120)
        assert res.returncode in (0, 1), (args, res.stderr)
        found = PYTHON.findall(res.stdout)
        assert not found, (args, found, res.stdout[:2000])


def _naive_now(env: Env, back_s: float) -> tuple[str, datetime]:
    zone = env.context().plan.database.timezone
    at = datetime.now(UTC) - timedelta(seconds=back_s)
    return at.astimezone(ZoneInfo(zone)).replace(tzinfo=None).isoformat(), at


def test_one_naive_time_is_one_instant_and_80_columns_cut_nothing(env: Env) -> None:
    env.run("backup", "--type", "incr")  # a backup older than the target, whatever ran before
    text, at = _naive_now(env, 1)
    expected = times.for_json(at)
    restored = json.loads(env.run("restore", "--time", text, "--as", "naive", "--json").stdout)
    try:
        since = json.loads(env.run("alerts", "--since", text, "--json").stdout)["since"]
        part = json.loads(env.run("partitions", "list", "--at", text, "--json").stdout)
        assert restored["target_time"] == since == part["at"] == expected
        assert {p["table"] for p in part["partitions"]} == {"bill_inquiry_history",
                                                            "kos_inquiry_history"}
        _eighty_columns(env)
    finally:
        env.run("restore", "drop", "naive", check=False)


def _fits(text: str) -> bool:
    """No table line wider than 80 and no ellipsis (prose lines wrap in the terminal)."""
    return "…" not in text and all(len(line) <= 80 for line in text.splitlines()
                                   if line[:1] in "┏┃┡│└")


def _eighty_columns(env: Env) -> None:
    zone = env.context().plan.database.timezone
    status = json.loads(billdb(env, "status", "--json").stdout)
    text = billdb(env, "status", columns=80).stdout
    assert _fits(text), text
    for m in status["members"]:
        assert re.search(rf"\b{m['role']}\b", text), (m["role"], text)
        assert f"{m['name']}: {m['data_dir']}" in text
    backups = json.loads(billdb(env, "backup", "list", "--json").stdout)["backups"]
    text = billdb(env, "backup", "list", columns=80).stdout
    assert _fits(text), text
    for b in backups:
        for key in ("start", "stop"):
            assert times.for_people(times.coerce(b[key]), zone) in text, (b[key], text)
        assert times.size(b["size_bytes"]) in text
    copies = json.loads(billdb(env, "restore", "list", "--json").stdout)["copies"]
    text = billdb(env, "restore", "list", columns=80).stdout
    assert copies and _fits(text), text
    for c in copies:
        for key in ("target_time", "recovered_to"):
            if c[key] is None:  # a copy to the latest point has no target time
                continue
            assert times.for_people(times.coerce(c[key]), zone) in text, (c[key], text)


def test_restore_before_the_first_backup_names_the_earliest_time(env: Env) -> None:
    res = billdb(env, "restore", "--time", "2020-01-01T00:00:00", "--as", "early", "--json")
    assert res.returncode == 1
    msg = json.loads(res.stdout)["error"]["message"]
    assert "earliest restorable time" in msg and "billdb restore --time" in msg
    assert "[075]" not in res.stderr


def test_reports_clamp_durations_and_slow_queries_sort_limit_and_filter(env: Env) -> None:
    conns = json.loads(env.run("report", "connections", "--json").stdout)["rows"]
    assert conns and all(isinstance(r["longest_in_state_s"], int | float)
                         and r["longest_in_state_s"] >= 0 for r in conns)
    tables = json.loads(env.run("report", "tables", "--json").stdout)["rows"]
    assert all(r["estimated_rows"] is None or r["estimated_rows"] >= 0 for r in tables)
    rows = json.loads(env.run("report", "slow-queries", "--limit", "3", "--order", "mean",
                              "--json").stdout)["rows"]
    assert 0 < len(rows) <= 3
    means = [r["mean_exec_time_ms"] for r in rows]
    assert means == sorted(means, reverse=True)
    assert not any(r["billdb_own"] for r in rows)
    own = json.loads(env.run("report", "slow-queries", "--include-billdb", "--limit", "1000",
                             "--json").stdout)["rows"]
    assert any(r["billdb_own"] for r in own)
    text = billdb(env, "report", "connections", columns=100).stdout
    assert "longest_in_state" in text and "day" not in text and "┃" in text  # a header row


def test_status_text_has_what_the_readme_promises(env: Env) -> None:
    text = billdb(env, "status", columns=200).stdout
    for heading in ("uptime", "restarts", "data directories", "timeline", "lag"):
        assert heading in text, heading


def test_checklist_dry_run_stores_nothing(env: Env) -> None:
    before = len(json.loads(env.run("checklist", "history", "--json").stdout)["runs"])
    for _ in range(2):
        doc = json.loads(billdb(env, "checklist", "daily", "--dry-run", "--json").stdout)
        assert doc["stored"] is None
    assert len(json.loads(env.run("checklist", "history", "--json").stdout)["runs"]) == before


def test_backup_verify_shows_progress(env: Env) -> None:
    res = billdb(env, "backup", "verify", "--json")
    assert res.returncode == 0, res.stderr
    assert "pgbackrest verify of repo1 and repo2" in res.stderr and "done in" in res.stderr


def test_dump_drop_drops_what_dump_restore_made_and_nothing_else(env: Env) -> None:
    dump = json.loads(env.run("dump", "--json").stdout)
    env.run("dump", "restore", dump["file"], "--into", "cli_dump_copy")
    res = billdb(env, "dump", "drop", "cli_dump_copy", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["dropped"] == "cli_dump_copy"
    res = billdb(env, "dump", "drop", env.context().plan.database.name)
    assert res.returncode == 1 and "not made by" in res.stderr


@pytest.mark.parametrize("where", ["BILLDB_PLAN", "state copy"])
def test_status_works_from_root(env: Env, where: str) -> None:
    extra = ({"BILLDB_PLAN": str(env.plan)} if where == "BILLDB_PLAN"
             else {"BILLDB_STATE_DIR": str(env.state_dir)})
    clean = {k: v for k, v in os.environ.items() if k != "BILLDB_PLAN"}
    res = subprocess.run([BILLDB, "status", "--json"], capture_output=True, text=True,
                         timeout=120, cwd="/", env=clean | extra)
    assert res.returncode in (0, 1), res.stderr
    assert json.loads(res.stdout)["state_dir"] == str(env.state_dir)
    assert "(from " in res.stderr
