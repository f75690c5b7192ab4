"""Backups, point-in-time restore, logical dumps and the scheduler against the real environment
(pgBackRest with repo1 + the Azurite geo repo2). Every test leaves the shared environment as
it found it: restored copies dropped, scratch databases dropped, damaged files repaired."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from ruamel.yaml import YAML

from billdb.ops.scheduler.calendar import WEEKDAYS, Slot
from conftest import Env, billdb


def _json(res) -> dict:
    return json.loads(res.stdout)


def _admin(env: Env) -> psycopg.Connection:
    return psycopg.connect(env.dsn("admin"), autocommit=True)


# --- pure parts -------------------------------------------------------------------------

def test_slot_is_computed_in_the_plans_zone():
    slot = Slot("02:00", "Asia/Seoul")
    now = datetime(2025, 9, 8, 16, 59, 59, tzinfo=UTC)  # 01:59:59 KST on a Tuesday
    assert slot.next_after(now) == datetime(2025, 9, 8, 17, 0, tzinfo=UTC)
    assert slot.next_after(slot.next_after(now)) == datetime(2025, 9, 9, 17, 0, tzinfo=UTC)
    weekly = Slot("03:00:30", "Asia/Seoul", "sunday")
    nxt = weekly.next_after(now)
    local = nxt.astimezone(ZoneInfo("Asia/Seoul"))
    assert WEEKDAYS[local.weekday()] == "sunday" and local.time().isoformat() == "03:00:30"
    assert weekly.previous_before(nxt) == nxt and weekly.previous_before(now) < now


def test_pgbackrest_config_has_every_member_and_encrypted_repos(env: Env):
    from billdb.ops.backup import common
    from billdb.render.pgbackrest import pgbackrest_conf

    ctx = env.context()
    text = pgbackrest_conf(ctx.plan, ctx.layout, common.repo_secrets(ctx))
    for i, m in enumerate(ctx.members, start=1):
        assert f"pg{i}-port={m.port}" in text
        assert f"pg{i}-socket-path={ctx.layout.run_dir}" in text
    assert text.count("cipher-type=aes-256-cbc") == 2
    assert "repo1-retention-full=35" in text and "repo2-type=azure" in text
    assert "compress-type=zst" in text and "backup-standby=y" in text
    conf = common.paths(ctx).config
    assert oct(conf.stat().st_mode & 0o777) == "0o640" and conf.owner() == "postgres"


# --- physical backups -------------------------------------------------------------------

def test_full_backup_lands_in_both_repos_encrypted(env: Env):
    before = {b["label"] for b in _json(env.run("backup", "list", "--json"))["backups"]}
    res = _json(env.run("backup", "--type", "full", "--json"))
    assert res["ok"] and [r["repo"] for r in res["repos"]] == [1, 2]
    listing = _json(env.run("backup", "list", "--json"))
    new = [b for b in listing["backups"] if b["label"] not in before]
    assert sorted(b["repo"] for b in new) == [1, 2]
    for b in new:
        assert b["type"] == "full" and b["encrypted"] and b["cipher"] == "aes-256-cbc"
        assert b["wal_start"] and b["wal_stop"] and b["size_bytes"] > 0
    assert {r["cipher"] for r in listing["repos"]} == {"aes-256-cbc"}


def test_verify_catches_a_flipped_byte(env: Env):
    ctx = env.context()
    from billdb.ops.backup import common

    repo1 = common.paths(ctx).repo1 / "backup" / ctx.local.patroni.scope
    files = sorted(p for p in repo1.glob("*F/pg_data/base/*/*") if p.is_file()
                   and p.stat().st_size > 4096)
    victim = files[-1]
    original = victim.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0xFF
    try:
        victim.write_bytes(bytes(damaged))
        res = env.run("backup", "verify", "--json", check=False)
        report = _json(res)
        assert res.returncode == 1 and not report["ok"]
        errors = " ".join(report["repos"][0]["errors"])
        assert victim.name in errors and "invalid" in errors
    finally:
        victim.write_bytes(original)
    res = env.run("backup", "verify", "--json", check=False)
    assert res.returncode == 0, res.stdout


# --- point-in-time restore ----------------------------------------------------------------

def test_restore_to_a_time_beside_the_cluster(env: Env):
    with _admin(env) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS billdb.pitr_probe (n int, at timestamptz "
                     "DEFAULT clock_timestamp())")
        conn.execute("TRUNCATE billdb.pitr_probe")
        conn.execute("INSERT INTO billdb.pitr_probe (n) SELECT generate_series(1, 10)")
        time.sleep(0.3)
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        time.sleep(0.3)
        conn.execute("INSERT INTO billdb.pitr_probe (n) SELECT generate_series(11, 20)")
    res = _json(env.run("restore", "--time", target.isoformat(), "--as", "pitr-test", "--json"))
    try:
        assert {"name", "port", "dsn", "target_time", "recovered_to", "restore_s"} <= set(res)
        recovered = datetime.fromisoformat(res["recovered_to"])
        assert abs((recovered - target).total_seconds()) <= 1.0
        with psycopg.connect(res["dsn"]) as copy:
            assert copy.execute("SELECT count(*), max(n) FROM billdb.pitr_probe").fetchone() \
                == (10, 10)
            assert copy.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
        status = _json(env.run("status", "--json"))
        assert "pitr-test" in status["backup"]["restored_copies"]
        with _admin(env) as conn:  # the cluster kept running and kept its rows
            assert conn.execute("SELECT count(*) FROM billdb.pitr_probe").fetchone()[0] == 20
    finally:
        env.run("restore", "drop", "pitr-test")
        with _admin(env) as conn:
            conn.execute("DROP TABLE IF EXISTS billdb.pitr_probe")
    assert not _json(env.run("restore", "list", "--json"))["copies"]


def test_restore_refuses_a_future_time(env: Env):
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    res = env.run("restore", "--time", future, "--as", "nope", check=False)
    assert res.returncode == 1 and "future" in res.stderr and "Traceback" not in res.stderr


def test_drill_restore_meets_the_goals(env: Env):
    res = env.run("drill", "restore", "--json", "--after-s", "1")
    report = _json(res)
    assert report["ok"] and report["rows_match"] and report["amcheck_ok"]
    assert abs(report["offset_s"]) <= 1.0 and report["markers_restored"] == 100
    assert report["copy_dropped"]
    assert not _json(env.run("restore", "list", "--json"))["copies"]


# --- logical dumps ------------------------------------------------------------------------

def test_dump_and_restore_give_the_same_row_counts(env: Env):
    dump = _json(env.run("dump", "--json"))
    assert Path(dump["file"]).exists() and dump["row_counts"]["system_config"] >= 13
    assert oct(Path(dump["file"]).stat().st_mode & 0o777) == "0o600"
    listed = _json(env.run("dump", "list", "--json"))
    assert dump["file"] in [d["file"] for d in listed["dumps"]]
    assert listed["retention_days"] == 90
    try:
        res = _json(env.run("dump", "restore", dump["file"], "--into", "scratch_db", "--json"))
        assert res["rows_match"]
        with psycopg.connect(env.dsn("admin")) as conn:
            for table, counts in res["tables"].items():
                live = conn.execute(f'SELECT count(*) FROM public."{table}"').fetchone()[0]
                assert counts["restored"] == counts["dump"] == live
        again = env.run("dump", "restore", dump["file"], "--into", "scratch_db", check=False)
        assert again.returncode == 1 and "exists already" in again.stderr
    finally:
        with _admin(env) as conn:
            conn.execute("DROP DATABASE IF EXISTS scratch_db WITH (FORCE)")


# --- scheduler ------------------------------------------------------------------------------

def test_schedule_lists_next_runs_and_the_supervised_scheduler(env: Env):
    report = _json(env.run("backup", "schedule", "--json"))
    assert report["scheduler"]["state"] == "running"
    jobs = {j["job"]: j for j in report["jobs"]}
    assert {"backup.daily", "backup.expire", "backup.logical"} <= set(jobs)
    now = datetime.now(UTC)
    for j in jobs.values():
        assert datetime.fromisoformat(j["next_run"]) > now
    seoul = datetime.fromisoformat(jobs["backup.daily"]["next_run"]).astimezone(
        ZoneInfo("Asia/Seoul"))
    assert seoul.strftime("%H:%M") == "02:00"
    status = _json(env.run("status", "--json"))
    assert {"scheduler", "azurite"} <= {s["name"] for s in status["services"]
                                        if s["state"] == "running"}


def test_scheduler_fires_a_job_set_seconds_ahead(env: Env, tmp_path: Path):
    seoul = ZoneInfo("Asia/Seoul")
    soon = datetime.now(seoul) + timedelta(seconds=4)
    yaml = YAML(typ="rt")
    doc = yaml.load(env.plan.read_text(encoding="utf-8"))
    doc["backup"]["logical"]["weekday"] = WEEKDAYS[soon.weekday()]
    doc["backup"]["logical"]["at"] = soon.strftime("%H:%M:%S")
    later = datetime.now(seoul) - timedelta(hours=1)  # daily jobs: next slot is ~23 h away
    doc["backup"]["schedule"]["daily_at"] = later.strftime("%H:%M:%S")
    plan = tmp_path / "plan.yaml"
    with plan.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)
    before = {d["file"] for d in _json(env.run("dump", "list", "--json"))["dumps"]}
    state = tmp_path / "state.json"
    t0 = time.monotonic()
    res = billdb("scheduler", "run", "--exit-after", "1", "--state", str(state), plan=plan,
                 timeout=120)
    waited = time.monotonic() - t0
    assert "backup.logical: started" in res.stdout and "backup.logical: ok" in res.stdout
    assert 2 <= waited <= 60
    rec = json.loads(state.read_text())["jobs"]["backup.logical"]
    assert rec["last_ok"] and rec["runs"] == 1
    assert datetime.fromisoformat(rec["last_slot"]).astimezone(seoul).strftime("%H:%M:%S") \
        == soon.strftime("%H:%M:%S")
    after = {d["file"] for d in _json(env.run("dump", "list", "--json"))["dumps"]}
    assert len(after - before) == 1


def test_verify_reports_backup_health(env: Env):
    report = _json(env.run("verify", "--json", check=False))
    checks = {c["id"]: c for c in report["checks"]}
    for check_id in ("backup.check", "backup.archiving", "backup.repo1.full_age",
                     "backup.repo2.full_age", "backup.repo1.newest_age", "backup.repo1.encrypted",
                     "backup.repo2.encrypted", "backup.scheduler", "backup.config",
                     "backup.logical_age"):
        assert checks[check_id]["ok"], checks[check_id]
