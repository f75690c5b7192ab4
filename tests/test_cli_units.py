"""Issue 20, without servers: one time rule, values for people and machines, the plan check at
load, JSON on failure, plan discovery, --help, the monthly slot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from billdb import times
from billdb.cli import cells, failure, helptext
from billdb.errors import ArgumentError, PlanError
from billdb.ops.scheduler.calendar import Slot
from billdb.plan import locate
from conftest import BILLDB, ROOT, write_plan

pytestmark = pytest.mark.unit
SEOUL = "Asia/Seoul"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`billdb ARGS` in this process (main() as the console script runs it): fast enough for
    the unit tier; one test below runs the real executable."""
    from billdb.cli.main import main

    def invoke(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Ran:
        with monkeypatch.context() as m:
            m.chdir(cwd)
            m.setattr(sys, "argv", ["billdb", *args])
            for k, v in (env or {}).items():
                m.setenv(k, v)
            capsys.readouterr()
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return invoke


def tz_typo_plan(tmp_path: Path) -> Path:
    def mutate(doc: dict) -> None:
        doc["database"]["timezone"] = "Asia/Soeul"

    return write_plan(tmp_path / "typo.yaml", tmp_path / "state", mutate=mutate)


# --- row 1: one time rule --------------------------------------------------------------

def test_a_naive_time_is_in_the_plans_zone_and_an_offset_wins() -> None:
    assert times.parse("2026-12-06T10:00:00", SEOUL) == datetime(2026, 12, 6, 1, tzinfo=UTC)
    assert times.parse("2026-12-06T10:00:00Z", SEOUL) == datetime(2026, 12, 6, 10, tzinfo=UTC)
    assert times.parse("2026-12-06 10:00:00+01:00", SEOUL) == datetime(2026, 12, 6, 9,
                                                                       tzinfo=UTC)
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert times.parse("2h", SEOUL, "--since", now, durations=True) == now - timedelta(hours=2)
    with pytest.raises(ArgumentError, match="--since"):
        times.parse("yesterday", SEOUL, "--since", durations=True)
    with pytest.raises(ArgumentError):
        times.parse("2h", SEOUL, "--time")  # a duration is no --time


def test_one_format_for_people_and_one_for_machines() -> None:
    t = datetime(2026, 12, 6, 8, 7, 59, 1844, tzinfo=UTC)
    assert times.for_people(t, SEOUL) == "2026-12-06T17:07:59+09:00"
    assert times.for_json(t) == "2026-12-06T08:07:59.001844+00:00"
    # Every shape the engines write becomes the same two forms.
    for raw in ("2026-12-06T08:07:59.001844Z", "2026-12-06 08:07:59.001844+00:00",
                "2026-12-06T17:07:59.001844123+09:00"):
        assert cells.cell(raw, SEOUL) == "2026-12-06T17:07:59+09:00"
        assert cells.for_machines({"t": raw})["t"] == "2026-12-06T08:07:59.001844+00:00"


# --- row 4: no Python syntax in text ------------------------------------------------------

def test_cells_never_show_python_syntax() -> None:
    evidence = {"members": {"zone1": {"role": "primary", "lag": None}},
                "summary": {"pass": 95, "fail": 1}, "back": [("replica", "streaming")],
                "ok": True, "since": datetime(2026, 12, 6, tzinfo=UTC)}
    text = cells.cell(evidence, SEOUL)
    for python in ("{", "}", "('", "None", "True", "False", "[", "datetime("):
        assert python not in text, (python, text)
    assert "  zone1:" in text and "pass: 95" in text and "replica, streaming" in text
    assert cells.cell(None, SEOUL) == "-"
    assert cells.cell(3191234567, SEOUL, "size_bytes") == "3.0 GiB"


def test_durations_are_clamped_seconds_in_json_and_words_in_text() -> None:
    negative = timedelta(microseconds=-1)  # `-1 day, 23:59:59.999999` in the old report
    assert cells.for_machines({"d": negative})["d"] == 0
    assert cells.cell(negative, SEOUL) == "0 s"
    assert cells.cell(timedelta(seconds=80), SEOUL) == "1m 20s"
    assert cells.cell(80.0, SEOUL, "rto_s") == "1m 20s" and cells.label("rto_s") == "rto"
    assert cells.for_machines({"d": timedelta(seconds=80)})["d"] == 80.0


# --- rows 2 and 6: the plan check at load, JSON on failure ---------------------------------

def test_a_time_zone_typo_exits_2_with_file_line_for_lint_and_commands(tmp_path, run) -> None:
    plan = tz_typo_plan(tmp_path)
    line = next(n for n, text in enumerate(plan.read_text().splitlines(), 1)
                if "Asia/Soeul" in text)
    for args, as_json in ((("plan", "lint"), False), (("plan", "lint"), True),
                          (("status",), True), (("verify",), False), (("alerts",), True),
                          (("backup", "schedule"), False), (("checklist", "daily"), True)):
        if True:
            res = run("--plan", str(plan), *args, *(["--json"] if as_json else []))
            assert res.returncode == 2, (args, res.stdout, res.stderr)
            assert "Traceback" not in res.stderr
            assert f"{plan}:{line}: database.timezone: unknown time zone 'Asia/Soeul'; " \
                   "did you mean 'Asia/Seoul'?" in res.stderr
            if as_json:
                doc = json.loads(res.stdout)
                assert doc["ok"] is False and doc["error"]["kind"] == "plan"
                assert doc["error"]["line"] == line
                assert doc["error"]["field"] == "database.timezone"
            else:
                assert res.stdout == ""


def test_plan_lint_json_on_an_unknown_key_prints_the_error_document(tmp_path, run) -> None:
    plan = write_plan(tmp_path / "p.yaml", tmp_path / "s",
                      mutate=lambda d: d["database"].__setitem__("colation", "C"))
    res = run("--plan", str(plan), "plan", "lint", "--json")
    doc = json.loads(res.stdout)
    assert res.returncode == 2 and doc["error"]["field"] == "database.colation"
    assert "unknown key" in doc["error"]["message"] and isinstance(doc["error"]["line"], int)


def test_a_usage_error_with_json_is_a_json_document_exit_2(run) -> None:
    res = run("status", "--json", "--no-such-flag")
    assert res.returncode == 2
    assert json.loads(res.stdout)["error"]["kind"] == "usage"


def test_the_installed_command_prints_one_line_and_the_document(tmp_path) -> None:
    """The console script itself (not in-process): exit code, stdout JSON, one stderr line."""
    plan = tz_typo_plan(tmp_path)
    res = subprocess.run([BILLDB, "--plan", str(plan), "verify", "--json"], capture_output=True,
                         text=True, timeout=60, env=os.environ)
    assert res.returncode == 2 and json.loads(res.stdout)["error"]["kind"] == "plan"
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_locales_and_zones_are_checked_in_the_model() -> None:
    from billdb.plan.types import _locale, _time_zone

    assert _time_zone("Asia/Seoul") == "Asia/Seoul"
    with pytest.raises(ValueError, match="did you mean 'Asia/Seoul'"):
        _time_zone("Asia/Soeul")
    for good in ("en_US.UTF-8", "ko_KR.utf8", "C", "POSIX", "C.UTF-8"):
        assert _locale(good) == good
    with pytest.raises(ValueError, match="not a locale"):
        _locale("en-US.UTF8x")


def test_failures_map_to_one_line_and_the_contracts_exit_codes() -> None:
    import psycopg

    f = failure.classify(PlanError("p.yaml:3: x: bad", "p.yaml", 3, "x"))
    assert f and f.exit_code == 2 and f.document()["error"] == {
        "kind": "plan", "message": "p.yaml:3: x: bad", "file": "p.yaml", "line": 3, "field": "x"}
    db = failure.classify(psycopg.errors.InvalidParameterValue(
        'invalid value for parameter "TimeZone": "Asia/Soeul"\nHINT: ...'))
    assert db and db.exit_code == 1 and "\n" not in db.message and db.kind == "database"
    assert failure.classify(ValueError("bug")) is None


# --- row 7: plan discovery --------------------------------------------------------------

def test_plan_discovery_order(tmp_path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    clone = tmp_path / "clone"
    (clone / "plans").mkdir(parents=True)
    env = {locate.STATE_ENV: str(state)}
    assert locate.locate(None, env, tmp_path).path is None
    copy = locate.keep_copy(ROOT / "plans" / "bill-inquiry.yaml", state)
    assert locate.locate(None, env, tmp_path) == locate.Located(copy, "the environment's copy")
    (clone / "plans" / "bill-inquiry.yaml").write_text("x")
    assert locate.locate(None, env, clone).source == "the current directory"
    assert locate.locate(None, env | {locate.PLAN_ENV: "/e.yaml"}, clone).path == Path("/e.yaml")
    assert locate.locate(Path("o.yaml"), env | {locate.PLAN_ENV: "/e.yaml"}).source == "--plan"


def test_commands_outside_the_clone_find_the_plan_and_say_which(tmp_path, run) -> None:
    plan = write_plan(tmp_path / "p.yaml", tmp_path / "state")
    res = run("plan", "lint", "--help", cwd=Path("/"))
    assert res.returncode == 0
    res = run("cost", "--json", cwd=Path("/"), env={locate.PLAN_ENV: str(plan)})
    assert res.returncode == 0 and json.loads(res.stdout)["total_monthly"] > 0
    assert f"plan {plan} (from BILLDB_PLAN)" in res.stderr
    res = run("cost", cwd=Path("/"), env={locate.STATE_ENV: str(tmp_path / "none")})
    assert res.returncode == 2 and "no plan file" in res.stderr and "Traceback" not in res.stderr


# --- row 8: the monthly checklist -----------------------------------------------------------

def test_a_monthly_slot_runs_on_its_day_of_the_month() -> None:
    slot = Slot("11:00", SEOUL, monthday=1)
    now = datetime(2026, 12, 6, 8, tzinfo=UTC)
    assert slot.next_after(now) == datetime(2027, 1, 1, 2, tzinfo=UTC)  # 11:00 KST
    assert slot.previous_before(now) == datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert slot.describe() == "monthly on day 1 at 11:00 Asia/Seoul"


def test_backup_schedule_shows_the_monthly_checklist_monthly(tmp_path) -> None:
    from billdb.context import load_context
    from billdb.ops.scheduler import runner

    ctx = load_context(write_plan(tmp_path / "p.yaml", tmp_path / "s"))
    jobs = {j["job"]: j for j in runner.next_runs(ctx, datetime(2026, 12, 6, 8, tzinfo=UTC))}
    assert jobs["checklist.monthly"]["schedule"].startswith("monthly on day 1")
    assert jobs["checklist.monthly"]["next_run"].startswith("2027-01-01")


# --- rows 12 and 13: --help, cost, small things ---------------------------------------------

def test_help_shows_flags_as_flags_and_whole_sentences(run) -> None:
    res = run("--help", env={"COLUMNS": "200"})
    assert "<bool>" not in res.stdout
    assert "escalated, resolved, duration, target met" in res.stdout  # no break mid-sentence
    res = run("backup", "list", "--help", env={"COLUMNS": "100"})
    assert "<bool>" not in res.stdout and "--json" in res.stdout
    assert helptext.prose("a\nb\n\nc") == "a b\n\nc"


def test_cost_has_a_header_row(tmp_path, run) -> None:
    plan = write_plan(tmp_path / "p.yaml", tmp_path / "s")
    out = run("--plan", str(plan), "cost", env={"COLUMNS": "120"}).stdout
    header = next(line for line in out.splitlines() if "component" in line)
    assert "billdb" in header and "plan" in header and "basis" in header


def test_down_purge_asks_for_yes(tmp_path, run) -> None:
    plan = write_plan(tmp_path / "p.yaml", tmp_path / "s")
    res = run("--plan", str(plan), "down", "--purge")
    assert res.returncode == 2 and "--yes" in res.stderr


def test_lint_document_refuses_a_file_that_is_no_plan(tmp_path, run) -> None:
    res = run("plan", "lint", "--document", "README.md", "--json")
    assert res.returncode == 1, res.stderr
    assert "no plan content found" in json.loads(res.stdout)["error"]["message"]


# --- row 9: incidents say what is true now, apart from what was true when they opened -----

def test_incidents_carry_the_current_state_beside_the_one_at_opening() -> None:
    from billdb.context import load_context
    from billdb.operations import alertlog, incidents

    data = ROOT / "tests" / "data" / "alerts-sample.jsonl"
    plan = load_context(ROOT / "plans" / "bill-inquiry.yaml").plan
    calls = []

    def confirm() -> dict:
        calls.append(1)
        return {"leader": "zone2", "timeline": 18, "write_route": "answers"}

    r = incidents.report(plan, alertlog.read_alerts(data),
                         now=datetime(2026, 12, 1, 15, 20, tzinfo=UTC), confirm=confirm)
    assert r["now"]["leader"] == "zone2" and r["now"]["timeline"] == 18
    assert times.coerce(r["now"]["checked_at"]) is not None
    assert calls == [1]  # one check serves the open sev1 and `now`


# --- row 3: at 80 columns nothing is cut ---------------------------------------------------

def test_status_at_80_columns_keeps_roles_times_and_paths_whole(monkeypatch) -> None:
    import io

    from rich.console import Console

    from billdb.cli import status_text

    monkeypatch.setenv("COLUMNS", "80")
    member = {"name": "replica", "role": "sync_standby", "state": "streaming", "lag_bytes": 3191234,
              "timeline": 18, "port": 25012, "rest_port": 25022, "pid": 123456,
              "patroni_pid": 123400, "data_dir": "/var/lib/billdb/local/members/replica/data",
              "supervisor": {"supervisor_state": "RUNNING", "uptime_s": 3725, "restarts": 2}}
    report = {"state_dir": "/var/lib/billdb/local", "members": [member], "services": [],
              "backup": {"last_backups": {"repo1": {"label": "20261206-080759F", "type": "full",
                                                    "stop": "2026-12-06T08:07:59+00:00"}}}}
    buf = io.StringIO()
    status_text.render(report, Console(file=buf, width=80), SEOUL)
    text = buf.getvalue()
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    for whole in ("sync_standby", "3.0 MiB", "1h 2m", "2026-12-06T17:07:59+09:00",
                  "replica: /var/lib/billdb/local/members/replica/data"):
        assert whole in text, (whole, text)


def _leaves(command, path=()):
    """Every runnable command of the tree: (words, click command)."""
    if hasattr(command, "commands"):  # a group (typer carries its own click)
        for name, sub in sorted(command.commands.items()):
            yield from _leaves(sub, (*path, name))
    else:
        yield path, command


def _bad_values(command) -> list[tuple[str, str]]:
    """(option, a value its type refuses) for every number or choice option of `command`."""
    import enum
    import typing

    out = []
    for p in command.params:
        if p.param_type_name != "option" or p.is_flag or not p.opts:
            continue
        kind = p.type_descriptor.annotation
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        kind = args[0] if len(args) == 1 else kind
        if kind in (int, float):
            out.append((p.opts[0], "not-a-number"))
        elif typing.get_origin(kind) is typing.Literal or (
                isinstance(kind, type) and issubclass(kind, enum.Enum)):
            out.append((p.opts[0], "no-such-choice"))
    return out


def test_every_command_refuses_bad_arguments_with_exit_2_and_no_traceback(run) -> None:
    """Each command with an option it does not have, and each typed option with a value of the
    wrong type or outside its choices: exit 2, one line that names it, never a traceback."""
    import typer.main

    from billdb.cli.main import app

    leaves = list(_leaves(typer.main.get_command(app)))
    assert len(leaves) > 60, len(leaves)
    tried = 0
    for words, command in leaves:
        attempts = [("--no-such-option",)] + [(opt, bad) for opt, bad in _bad_values(command)]
        for extra in attempts:
            res = run(*words, *extra)
            tried += 1
            assert res.returncode == 2, (words, extra, res.stdout, res.stderr)
            assert "Traceback" not in res.stderr + res.stdout, (words, extra, res.stderr)
            named = extra[0] if len(extra) == 1 else extra[1]
            assert named in res.stderr or extra[0] in res.stderr, (words, extra, res.stderr)
    assert tried > len(leaves)
