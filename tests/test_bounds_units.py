"""The disk bounds derived from the plan (render/bounds.py, docs/bounds.md) and what reads
pgBackRest's per-repository archive (ops/backup/archive_state.py). No server."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billdb.azure.parameters import server_parameters
from billdb.layout import Layout
from billdb.ops.backup import archive_state
from billdb.plan.load import load_plan
from billdb.render import bounds
from billdb.render.parameters import cluster_parameters
from billdb.render.pgbackrest import RepoSecrets, pgbackrest_conf
from conftest import ROOT, write_plan

pytestmark = pytest.mark.unit
PLAN = ROOT / "plans" / "bill-inquiry.yaml"


def test_bounds_follow_disk_and_alert_threshold() -> None:
    plan = load_plan(PLAN)
    prod, local = bounds.disk_bounds(plan, "prod"), bounds.disk_bounds(plan, "local")
    # 256 GB, alert at 80 %: reserve 51.2 GB, half of it for held-back WAL
    assert prod.wal_keep_mb == 26214 and prod.log_cap_bytes // bounds.MB == 5242
    assert local.wal_keep_mb == 2457  # the member's 24 GB budget, same ratios
    assert prod.ok and local.ok  # both over the RPO floor: 1 MB/s x (5 + 30) min
    assert prod.floor_bytes == 2100 * bounds.MB
    assert round(prod.hold_s / 3600, 1) == 7.3


def test_bound_under_the_rpo_floor_is_not_ok(tmp_path: Path) -> None:
    def small(doc: dict) -> None:
        doc["environments"]["local"]["disk_budget_gb"] = 8
    plan = load_plan(write_plan(tmp_path / "p.yaml", tmp_path / "s", mutate=small))
    b = bounds.disk_bounds(plan, "local")
    assert b.wal_keep_mb == 819 and not b.ok and "RPO floor 2100 MB" in b.reasoning()


def test_the_bound_reaches_postgres_pgbackrest_not_azure(tmp_path: Path) -> None:
    plan = load_plan(PLAN)
    mb = bounds.disk_bounds(plan).wal_keep_mb
    assert cluster_parameters(plan)["max_slot_wal_keep_size"] == f"{mb}MB"
    conf = pgbackrest_conf(plan, Layout(tmp_path), RepoSecrets("a", "b", "c"))
    push = conf.split("[global:archive-push]\n", 1)[1].split("\n\n", 1)[0]
    assert push == f"archive-async=y\narchive-push-queue-max={mb}MB"
    assert conf.count("archive-async") == 1  # archive-get stays synchronous
    azure = {p.name for p in server_parameters(plan)}
    assert not azure & {"max_slot_wal_keep_size", "log_rotation_age", "log_rotation_size"}


def test_archive_alert_fires_within_the_rpo() -> None:
    plan = load_plan(PLAN)
    t = bounds.archive_alert_timing(plan)
    assert t.ok and t.worst_s <= plan.dr.rpo_min * 60 and t.threshold_s == 146
    tight = plan.model_copy(update={"dr": plan.dr.model_copy(update={"rpo_min": 1})})
    assert not bounds.archive_alert_timing(tight).ok  # 1 min cannot be met: said so


def _segment(d: Path, name: str, age: float) -> None:
    (d / name).write_bytes(b"")
    t = time.time() - age
    os.utime(d / name, (t, t))


def test_oldest_missing_segment_age(tmp_path: Path) -> None:
    for name, age in (("000000010000000000000010", 400), ("000000010000000000000011", 200),
                      ("000000010000000000000012", 100), ("000000010000000000000013", 0),
                      ("000000010000000000000014", 5000)):  # 14: recycled, ahead
        _segment(tmp_path, name, age)
    now, cur = time.time(), "000000010000000000000013"
    assert round(archive_state.oldest_missing_age(tmp_path, "000000010000000000000010", cur,
                                                  now)) == 200
    assert archive_state.oldest_missing_age(tmp_path, "000000010000000000000012", cur,
                                            now) == 0.0
    # a new timeline continues the count
    assert round(archive_state.oldest_missing_age(tmp_path, "000000020000000000000011",
                                                  "000000020000000000000013", now)) == 100


def test_drops_break_repos_until_a_newer_full() -> None:
    text = ("2026-12-06 11:53:26.660 P00   WARN: dropped WAL file '000000010000000000000020' "
            "because archive queue exceeded 2457MB\n"
            "2026-12-06 11:53:27.000 P01   INFO: pushed WAL file '000000010000000000000021'\n")
    drops = archive_state.parse_drops(text)
    assert [d.wal for d in drops] == ["000000010000000000000020"]
    ts = drops[0].at.timestamp()
    assert archive_state.broken_repos(drops[0], {1: int(ts) - 60, 2: int(ts) + 60}) == [1]
    assert archive_state.broken_repos(None, {}) == []
    assert drops[0].at.tzinfo is not None and drops[0].at < datetime.now(UTC)


def test_log_prune_keeps_age_and_total_under_the_cap(tmp_path: Path) -> None:
    from billdb.ops import logs

    now = time.time()
    for i, (age_h, size) in enumerate([(200, 10), (50, 40), (30, 40), (20, 40), (1, 40),
                                       (0, 40)]):
        f = tmp_path / f"postgresql-2026-12-0{i}_000000.log"
        f.write_bytes(b"x" * size)
        os.utime(f, (now - age_h * 3600, now - age_h * 3600))
    (tmp_path / "other.txt").write_text("not a server log")
    got = logs.prune_dir("zone1", tmp_path, cap_bytes=130, max_age_s=7 * 86400, now=now)
    left = sorted(p.name for p in tmp_path.glob("postgresql-*.log"))
    # 200 h is past 7 days; then the oldest go until 130 bytes: 3 files of 40 remain
    assert got.removed == 3 and got.kept_bytes == 120 and len(left) == 3
    assert left[-1].startswith("postgresql-2026-12-05") and (tmp_path / "other.txt").exists()
    # the file being written stays even when it alone is over the cap
    assert logs.prune_dir("zone1", tmp_path, 10, 7 * 86400, now).kept == 1


def test_every_min_slot() -> None:
    from billdb.ops.scheduler.calendar import Slot

    s = Slot("00:00", "Asia/Seoul", every_min=15)
    t = datetime(2026, 12, 6, 3, 7, tzinfo=UTC)  # 12:07 in Seoul
    assert s.next_after(t) == datetime(2026, 12, 6, 3, 15, tzinfo=UTC)
    assert s.previous_before(t) == datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert s.period.total_seconds() == 900 and "every 15 min" in s.describe()


def _status(controls: list[dict]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in controls}


def test_bound_and_log_controls_fail_when_weakened(tmp_path: Path) -> None:
    from billdb.operations import audit_bounds
    from billdb.render.patroni import LOG_FILENAME

    plan = load_plan(PLAN)
    b = bounds.disk_bounds(plan)
    good = {"max_slot_wal_keep_size": str(b.wal_keep_mb), "log_rotation_age": "60",
            "log_rotation_size": str(b.log_file_bytes // 1024), "log_filename": LOG_FILENAME}
    conf = pgbackrest_conf(plan, Layout(tmp_path), RepoSecrets("a", "b", "c"))
    ok = _status(audit_bounds.wal_controls(plan, good, conf, "zone1"))
    assert set(ok.values()) == {"pass"}
    weak = _status(audit_bounds.wal_controls(
        plan, good | {"max_slot_wal_keep_size": "-1"},
        conf.replace("archive-push-queue-max", "#archive-push-queue-max"), "zone1"))
    assert weak["wal.max_slot_wal_keep_size"] == weak["wal.archive_push_queue_max"] == "fail"
    get_async = conf.replace("[global]\n", "[global]\narchive-async=y\n")
    weak = _status(audit_bounds.wal_controls(plan, good, get_async, "zone1"))
    assert weak["wal.archive_get_sync"] == "fail" and weak["wal.archive_push_queue_max"] == "pass"
    usage = {"zone1": (10 * bounds.MB, 3600.0)}
    assert set(_status(audit_bounds.log_controls(plan, good, usage, True)).values()) == {"pass"}
    weak = _status(audit_bounds.log_controls(plan, good | {"log_filename": "postgresql-%a.log"},
                                             {"zone1": (b.log_cap_bytes * 2, 3600.0)}, True))
    assert weak == {"log.rotation": "fail", "log.cap": "fail"}
    old = _status(audit_bounds.log_controls(plan, good, {"zone1": (1, 8 * 86400.0)}, True))
    assert old["log.cap"] == "fail"
    assert _status(audit_bounds.log_controls(plan, good, usage, False))["log.cap"] == "fail"


def test_each_member_archives_with_its_own_spool_and_lock(tmp_path: Path) -> None:
    """The members share a host: pgBackRest keys its queue and archive lock by stanza, so each
    member's archive_command and restore_command name the member's own spool and lock paths."""
    from billdb.backup_layout import BackupLayout
    from billdb.render.pgbackrest import archive_command, restore_command

    plan = load_plan(PLAN)
    layout = Layout(tmp_path)
    paths = BackupLayout(layout)
    seen = set()
    for m in plan.environments.local.members:
        own = (f"--spool-path={paths.member_spool(m.name)} --lock-path="
               f"{paths.member_lock(m.name)} --pg1-path={layout.member(m.name).data} ")
        push, get = archive_command(plan, layout, m.name), restore_command(plan, layout, m.name)
        assert own + "archive-push %p" in push and own + 'archive-get %f "%p"' in get
        seen.add(paths.member_lock(m.name))
    assert len(seen) == len(plan.environments.local.members)
