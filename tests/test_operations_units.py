"""Pure parts of billdb.operations: incidents from a synthetic alert log (a data file in
Alertmanager's webhook shape), the log scanner, the Prometheus module without Prometheus."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from billdb.context import Context, load_context
from billdb.errors import BilldbError
from billdb.operations import alertlog, incidents, logscan
from billdb.plan.local_models import LocalMonitoring
from billdb.state import metrics

DATA = Path(__file__).parent / "data" / "alerts-sample.jsonl"
PLAN = Path(__file__).resolve().parents[1] / "plans" / "bill-inquiry.yaml"
pytestmark = pytest.mark.unit


def test_incidents_from_alert_log() -> None:
    plan = load_context(PLAN).plan
    alerts = alertlog.read_alerts(DATA)
    assert len(alerts) == 6
    now = datetime(2026, 12, 1, 15, 20, tzinfo=UTC)
    seen = []
    r = incidents.report(plan, alerts, now=now, confirm=lambda: seen.append(1) or {"x": 1})
    by = {i["alert"]: i for i in r["incidents"]}
    down = by["PostgresPrimaryDown"]
    assert down["severity"] == "sev1" and down["duration_min"] == 0.35
    assert down["target_met"] is True and down["escalated"] is None
    lag = by["ReplicaLagHigh"]
    assert lag["severity"] == "sev2" and lag["duration_min"] == 210 and lag["target_met"] is False
    route = by["WriteRouteDown"]  # open 20 min: escalated at 15, still inside the 30 min target
    assert route["resolved"] is None and route["escalated"] == "2026-12-01T15:15:00+00:00"
    assert route["target_met"] is None and route["confirmation"] == {"x": 1}
    assert by["DiskFillingUp"]["severity"] == "sev3" and by["DiskFillingUp"]["target_min"] == 1440
    assert seen == [1]  # confirmation asked for the open sev1 only
    assert r["open"] == 2 and r["missed"] == 1 and r["ok"] is False


def test_alert_log_bad_line_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "alerts.jsonl"
    p.write_text('{"status": "firing", "labels": {}}\n')
    with pytest.raises(BilldbError, match="line 1"):
        alertlog.read_alerts(p)
    assert alertlog.read_alerts(tmp_path / "absent.jsonl") == []


def test_logscan_kinds_slow_and_offsets(tmp_path: Path) -> None:
    log = tmp_path / "postgresql-Tue.log"
    pre = "2026-12-01 10:00:00 KST [1]: user=a,db=b,app=c,client=d"
    log.write_text(
        f'{pre} ERROR:  relation "x" does not exist\n'
        f'{pre} ERROR:  relation "y" does not exist\n'
        f"{pre} LOG:  duration: 1500.5 ms  "
        "statement: SELECT pg_sleep(1.5)\n")
    s = logscan.scan([log], {})
    assert s.errors == {'ERROR: relation "…" does not exist': 2}
    assert s.slow == [(1500.5, "SELECT pg_sleep(1.5)")]
    with log.open("a") as fh:
        fh.write("2026-12-01 10:00:03 KST [4]: user=a FATAL:  terminating connection 42\n")
    again = logscan.scan([log], s.offsets)
    assert again.errors == {"FATAL: terminating connection N": 1} and again.lines == 1


def _with_monitoring(ctx: Context, monitoring: LocalMonitoring | None) -> Context:
    local = ctx.local.model_copy(update={"monitoring": monitoring})
    envs = ctx.plan.environments.model_copy(update={"local": local})
    return replace(ctx, plan=ctx.plan.model_copy(update={"environments": envs}))


def test_metrics_without_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    """None, never a made-up figure: no Prometheus configured, or none answering (port 9:
    nothing listens; the plan's own port may have the environment's Prometheus behind it)."""
    monkeypatch.delenv("BILLDB_PROMETHEUS_URL", raising=False)
    ctx = load_context(PLAN)
    assert ctx.local.monitoring is not None
    assert metrics.peak(_with_monitoring(ctx, None), "up", 24) is None
    silent = ctx.local.monitoring.model_copy(update={"prometheus_port": 9})
    assert metrics.peak(_with_monitoring(ctx, silent), "up", 24) is None
    monkeypatch.setenv("BILLDB_PROMETHEUS_URL", "http://127.0.0.1:9")
    assert metrics.peak(ctx, "up", 24) is None


def _ending_an_hour_ago(tmp_path: Path) -> Path:
    """The sample log moved in time so that its last alert fired an hour ago: the CLI judges
    open incidents against the clock (the open sev3 is then inside its 24 h, the sev1 not)."""
    shift = datetime.now(UTC) - timedelta(hours=1) - datetime(2026, 12, 1, 15, 10, tzinfo=UTC)

    def move(m: re.Match[str]) -> str:
        t = datetime.fromisoformat(m.group(0).replace("Z", "+00:00")) + shift
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    out = tmp_path / "alerts.jsonl"
    out.write_text(re.sub(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ", move, DATA.read_text()))
    return out


def test_incidents_cli_reads_the_alert_log(tmp_path: Path) -> None:
    """`billdb incidents` on a plan whose environment is not running: the open sev1 says the
    write route does not answer; a malformed log exits 2 naming the line."""
    import json
    import subprocess
    import sys

    from conftest import write_plan

    plan = write_plan(tmp_path / "plan.yaml", tmp_path / "state", port_base=33090)
    billdb = str(Path(sys.executable).parent / "billdb")
    env = {"BILLDB_ALERT_LOG": str(_ending_an_hour_ago(tmp_path)), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([billdb, "--plan", str(plan), "incidents", "--json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 1, res.stderr  # the sev2 missed its 2 h, the open sev1 its 30 min
    doc = json.loads(res.stdout)
    assert len(doc["incidents"]) == 4 and doc["missed"] == 2
    open_sev1 = next(i for i in doc["incidents"] if i["alert"] == "WriteRouteDown")
    assert open_sev1["escalated"] is not None and open_sev1["target_met"] is False
    assert open_sev1["confirmation"]["write_route"].startswith("does not answer")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    res = subprocess.run([billdb, "--plan", str(plan), "incidents"], capture_output=True,
                         text=True, env=env | {"BILLDB_ALERT_LOG": str(bad)}, timeout=60)
    assert res.returncode == 2 and "line 1" in res.stderr and "Traceback" not in res.stderr


def test_dr_review_reads_drill_figures(tmp_path: Path) -> None:
    """The monthly DR item: the last `drill dr` from the journal's archive and the last
    `drill restore` the checklist stored, against the RTO of 30 min, with their age."""
    import json

    from billdb.operations import monthly, weekly
    from conftest import write_plan

    ctx = load_context(write_plan(tmp_path / "plan.yaml", tmp_path / "state", port_base=33090))
    done = tmp_path / "state" / "journal" / "done"
    done.mkdir(parents=True)
    item = monthly.dr_update(ctx, "x")
    assert item["status"] == "warn" and "no `drill dr`" in item["evidence"]["dr"]
    (done / "abc-drill-dr.json").write_text(json.dumps({
        "finished_at": datetime.now(UTC).isoformat(),
        "data": {"result": {"rto_s": 21.5, "lost_commits": 0}}}))
    weekly.record_drill(ctx, "restore", {"restore_s": 9.1, "ok": True})
    item = monthly.dr_update(ctx, "x")
    assert item["status"] == "pass", item
    assert item["evidence"]["dr"]["rto_s"] == 21.5 and item["evidence"]["dr"]["rto_met"]
    assert item["evidence"]["restore"]["restore_s"] == 9.1


def test_checklist_jobs_at_plan_times() -> None:
    """The scheduler's list holds the three checklists at operations.schedule's times."""
    from billdb.ops.scheduler import jobs

    ctx = load_context(PLAN)
    by = {j.name: j for j in jobs.all_jobs(ctx)}
    sch = ctx.plan.operations.schedule
    assert by["checklist.daily"].slot.at == sch.daily_at
    assert by["checklist.weekly"].slot.weekday == sch.weekly_on
    assert by["checklist.monthly"].slot.at == sch.monthly_at
    assert "day 1" in by["checklist.monthly"].description


def test_the_scheduler_program_changes_with_its_schedule() -> None:
    """The running scheduler loaded its jobs when it started: a moved or a new job changes
    its supervised program (the schedule's fingerprint in its environment), so `up` has
    supervisord restart it."""
    from billdb.ops.backup import services

    ctx = load_context(PLAN)
    before = services.scheduler(ctx).env["BILLDB_SCHEDULE"]
    assert before == services.scheduler(load_context(PLAN)).env["BILLDB_SCHEDULE"]
    sch = ctx.plan.operations.schedule
    moved = ctx.plan.model_copy(update={"operations": ctx.plan.operations.model_copy(
        update={"schedule": sch.model_copy(update={"daily_at": "07:31"})})})
    assert services.scheduler(replace(ctx, plan=moved)).env["BILLDB_SCHEDULE"] != before


@pytest.mark.unit
def test_restored_wal_of_older_timelines_is_marked_archived(tmp_path: Path):
    from billdb.ops.backup.promote import mark_restored_wal_archived

    wal = tmp_path / "pg_wal"
    (wal / "archive_status").mkdir(parents=True)
    for name in ("00000004000000000000001B", "00000005000000000000001B",
                 "00000005000000000000001C", "00000005.history"):
        (wal / name).write_text("x")
    (wal / "archive_status" / "00000004000000000000001B.ready").write_text("")
    assert mark_restored_wal_archived(wal) == 1
    status = sorted(p.name for p in (wal / "archive_status").iterdir())
    assert status == ["00000004000000000000001B.done"]  # the copy's own timeline stays to archive
    assert mark_restored_wal_archived(wal) == 0  # a rerun (journal resume) changes nothing


def _post(port: int, body: dict) -> int:
    import json
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}/alerts", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as res:
        return res.status


def test_receiver_log_reads_back_as_incidents_with_the_sev1_confirmed(tmp_path: Path) -> None:
    """What the receiver writes is what `incidents` reads: a sev1 webhook is logged, confirmed
    at once (once per firing, not per repeat) and comes back as one incident that resolves."""
    import socket
    import threading
    import time

    from billdb.monitoring import receiver

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log, conf = tmp_path / "alerts.jsonl", alertlog.confirmations_path(tmp_path / "alerts.jsonl")
    calls = []
    threading.Thread(target=receiver.serve, daemon=True, args=(
        port, log, conf, lambda: calls.append(1) or {"leader": "zone2", "timeline": 3,
                                                      "write_route": "answers"})).start()
    alert = {"labels": {"alertname": "PostgresFailover", "severity": "sev1"},
             "startsAt": "2026-12-01T10:00:00.123456789Z", "fingerprint": "f9",
             "annotations": {"summary": "the timeline changed"}}
    firing = {**alert, "status": "firing", "endsAt": "0001-01-01T00:00:00Z"}
    resolved = {**alert, "status": "resolved", "endsAt": "2026-12-01T10:03:30Z"}
    time.sleep(0.2)
    assert _post(port, {"version": "4", "alerts": [firing]}) == 200
    assert _post(port, {"version": "4", "alerts": [firing]}) == 200  # a repeat (escalation)
    assert _post(port, {"version": "4", "alerts": [resolved]}) == 200
    for _ in range(50):
        if conf.exists():
            break
        time.sleep(0.1)
    plan = load_context(PLAN).plan
    r = incidents.report(plan, alertlog.read_alerts(log),
                         confirmed=alertlog.read_confirmations(conf))
    assert calls == [1] and len(r["incidents"]) == 1
    inc = r["incidents"][0]
    assert inc["severity"] == "sev1" and inc["resolved"] == "2026-12-01T10:03:30+00:00"
    assert inc["duration_min"] == 3.5 and inc["target_met"] is True
    assert inc["confirmation"] == {"leader": "zone2", "timeline": 3, "write_route": "answers"}


def test_billdbs_own_programs_restart_when_its_code_changes(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    """The scheduler, exporter, alert receiver and pooler follower run billdb's own code: their
    supervised programs carry its fingerprint, so an updated billdb has `up` restart them."""
    from billdb.engines import billdb_self
    from billdb.monitoring import stack
    from billdb.ops import pooler
    from billdb.ops.backup import services

    ctx = load_context(PLAN)
    mine = [services.scheduler(ctx), pooler.follower(ctx),
            *[s for s in stack.services(ctx) if s.name in ("billdb-exporter", "alert-receiver")]]
    assert len(mine) == 4
    assert all(s.env["BILLDB_CODE"] == billdb_self.code_fingerprint() for s in mine)

    pkg = tmp_path / "billdb"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(billdb_self, "PACKAGE", pkg)
    billdb_self.code_fingerprint.cache_clear()
    try:
        first = billdb_self.code_fingerprint()
        (pkg / "__pycache__" / "a.pyc").write_bytes(b"\0")  # compiled files do not count
        billdb_self.code_fingerprint.cache_clear()
        assert billdb_self.code_fingerprint() == first
        (pkg / "a.py").write_text("x = 22\n")
        billdb_self.code_fingerprint.cache_clear()
        assert billdb_self.code_fingerprint() != first
    finally:
        billdb_self.code_fingerprint.cache_clear()
