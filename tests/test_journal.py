"""The journal of shape-changing operations: pure resume/revert logic (unit), then a SIGKILL at
each step of `keys rotate` and `restore promote` followed by a rerun, on real servers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from billdb.client import BillDB, ClientConfig
from billdb.client.crypto import FieldCipher
from billdb.client.repository import BillRepository
from billdb.engines import patroni, process
from billdb.ops import journal
from billdb.ops.backup.promote import swap, unswap
from conftest import BILLDB, ROOT, Env


@pytest.fixture(scope="module")
def env(fresh_env: Env) -> Env:
    """This file's own environment: its drills change the cluster's shape, and a long shared
    history of failovers and promotions must not decide what the next file's checks see."""
    return fresh_env


class Killed(BaseException):
    """Stands in for SIGKILL in the pure tests: nothing after it runs, nothing is caught."""


def _steps(calls: list[str], kill_at: str | None = None, revert_b: bool = False,
           fail_at: str | None = None) -> list[journal.Step]:
    def make(name: str):
        def run(j: journal.Journal) -> str:
            calls.append(name)
            j.record(**{name: j.data.get(name, 0) + 1})
            if name == kill_at:
                raise Killed
            if name == fail_at:
                raise RuntimeError(f"{name} failed")
            return f"{name} ran"
        return run

    def revert(j: journal.Journal) -> str:
        calls.append("revert b")
        return "b undone"

    return [journal.Step("a", make("a")),
            journal.Step("b", make("b"), revert=revert if revert_b else None),
            journal.Step("c", make("c"))]


def _run(d: Path, steps: list[journal.Step], args: dict | None = None, op: str = "demo"):
    return journal.run(d, op, args or {"x": 1}, steps, command=f"billdb {op}",
                       prepare=lambda: {"planned": "k2"})


@pytest.mark.unit
def test_a_rerun_resumes_at_the_interrupted_step_and_skips_done_ones(tmp_path: Path):
    calls: list[str] = []
    with pytest.raises(Killed):
        _run(tmp_path, _steps(calls, kill_at="b"))
    doc = json.loads((tmp_path / "demo.json").read_text())
    assert [s["status"] for s in doc["steps"]] == ["done", "running"]
    assert oct((tmp_path / "demo.json").stat().st_mode & 0o777) == "0o600"
    j, rec = _run(tmp_path, _steps(calls))
    assert calls == ["a", "b", "b", "c"]  # a not again, b again, c once
    assert rec["resumed"] and rec["resumed_steps"] == ["b"] and rec["skipped"] == ["a"]
    assert rec["reverted"] == [] and j.data["planned"] == "k2" and j.data["b"] == 2
    assert not (tmp_path / "demo.json").exists()  # closed and archived
    archived = json.loads(Path(rec["file"]).read_text())
    assert archived["state"] == "done" and archived["runs"] == 2


@pytest.mark.unit
def test_an_unsafe_step_is_reverted_then_run_again(tmp_path: Path):
    calls: list[str] = []
    with pytest.raises(Killed):
        _run(tmp_path, _steps(calls, kill_at="b", revert_b=True))
    _, rec = _run(tmp_path, _steps(calls, revert_b=True))
    assert calls == ["a", "b", "revert b", "b", "c"]
    assert rec["reverted"] == [{"run": 2, "step": "b", "detail": "b undone"}]
    assert {"name": "b", "on_interrupt": "revert"} in rec["steps"]


@pytest.mark.unit
def test_a_failed_step_keeps_the_journal_open_for_the_rerun(tmp_path: Path):
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        _run(tmp_path, _steps(calls, fail_at="c"))
    doc = json.loads((tmp_path / "demo.json").read_text())
    assert doc["steps"][-1]["status"] == "failed" and "c failed" in doc["steps"][-1]["error"]
    _, rec = _run(tmp_path, _steps(calls))
    assert calls == ["a", "b", "c", "c"] and rec["resumed_steps"] == ["c"]


@pytest.mark.unit
def test_a_finished_operation_leaves_the_next_run_fresh(tmp_path: Path):
    calls: list[str] = []
    _run(tmp_path, _steps(calls))
    _, rec = _run(tmp_path, _steps(calls))
    assert calls == ["a", "b", "c"] * 2 and not rec["resumed"] and rec["runs"] == 1


@pytest.mark.unit
def test_other_arguments_or_another_operation_while_open_exit_2(tmp_path: Path):
    calls: list[str] = []
    with pytest.raises(Killed):
        _run(tmp_path, _steps(calls, kill_at="a"))
    for args, op in (({"x": 2}, "demo"), ({"x": 1}, "other")):
        with pytest.raises(journal.JournalConflict) as exc:
            _run(tmp_path, _steps(calls), args=args, op=op)
        assert exc.value.exit_code == 2 and "half done" in str(exc.value)
        assert "billdb demo" in str(exc.value)  # says how to finish the open one
    assert calls == ["a"]


@pytest.mark.unit
def test_up_is_refused_while_an_operation_is_half_done(tmp_path: Path):
    calls: list[str] = []
    journal.refuse_if_open(tmp_path, "billdb up")  # nothing open: allowed
    with pytest.raises(Killed):
        _run(tmp_path, _steps(calls, kill_at="b"))
    with pytest.raises(journal.JournalConflict) as exc:
        journal.refuse_if_open(tmp_path, "billdb up")
    assert exc.value.exit_code == 2 and "'b'" in str(exc.value) and "billdb demo" in str(exc.value)
    _run(tmp_path, _steps(calls))  # the rerun finishes it
    journal.refuse_if_open(tmp_path, "billdb up")


@pytest.mark.unit
def test_two_processes_never_run_at_once(tmp_path: Path):
    def inner(j: journal.Journal) -> str:
        with pytest.raises(journal.JournalConflict, match="running"):
            _run(tmp_path, [])
        return "ok"

    journal.run(tmp_path, "outer", {}, [journal.Step("s", inner)], command="billdb outer")


@pytest.mark.unit
@pytest.mark.parametrize("kill_after", [0, 1, 2])
def test_unswap_undoes_a_data_swap_killed_after_any_rename(tmp_path: Path, kill_after: int):
    lead, copy, aside = tmp_path / "m" / "data", tmp_path / "c" / "data", tmp_path / "m" / "aside"
    for d, marker in ((lead, "old"), (copy, "new")):
        d.mkdir(parents=True)
        (d / "who").write_text(marker)
    renames = [(lead, aside), (copy, lead)][:kill_after]
    for src, dst in renames:  # what `swap` had done when the kill came
        src.rename(dst)
    unswap(lead, copy, aside)
    assert (lead / "who").read_text() == "old" and (copy / "who").read_text() == "new"
    swap(lead, copy, aside)
    assert (lead / "who").read_text() == "new" and (aside / "who").read_text() == "old"
    assert not copy.exists()


# --- a SIGKILL at each step, then a rerun (real servers) ----------------------------------

def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def _kill_at(env: Env, point: str, *args: str, timeout: float = 300) -> None:
    """Run `billdb ARGS` until it stops itself at journal point POINT, then SIGKILL it."""
    proc = subprocess.Popen([BILLDB, "--plan", str(env.plan), *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {journal.PAUSE_ENV: point})
    deadline = time.monotonic() + timeout
    while _state(proc.pid) != "T":
        if proc.poll() is not None:
            raise AssertionError(f"{args} ended ({proc.returncode}) before {point!r}: "
                                 f"{proc.stderr.read()}")
        assert time.monotonic() < deadline, f"{args} never reached {point!r}"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stderr.close()


def _open_journal(env: Env) -> dict:
    [doc] = journal.open_journals(journal.directory(env.state_dir))
    return doc


def _json(env: Env, *args: str, check: bool = True) -> dict:
    res = env.run(*args, "--json", check=check)
    return json.loads(res.stdout)


def _repo(env: Env, fn):
    async def main():
        async with BillDB(ClientConfig.from_plan(env.plan)) as db:
            repo = BillRepository(db, FieldCipher.from_secrets_file(
                env.state_dir / "secrets" / "secrets.json"))
            try:
                return await fn(repo)
            finally:
                await repo.close()
    return asyncio.run(main())


def _admin(env: Env) -> psycopg.Connection:
    dsn = env.dsn("admin").replace("/postgres?", "/bill_inquiry_db?")
    return psycopg.connect(dsn, autocommit=True)


def test_keys_rotate_killed_at_every_step_ends_with_one_new_key(env: Env):
    names = {f"jr-{i}": f"0108{i:07d}" for i in range(40)}

    async def write(repo: BillRepository):
        for cid, line in names.items():
            await repo.put_customer(cid, line, f"이름 {cid}", "KT")

    async def read(repo: BillRepository) -> dict[str, str]:
        return {cid: (await repo.get_customer(line)).name
                for cid, line in names.items()}

    _repo(env, write)
    before = _json(env, "keys", "status")
    args = ("keys", "rotate", "--batch", "3")
    points = ["activate key", "activate key:after", "settle", "re-encrypt",
              "re-encrypt:batch", "re-encrypt:after"]
    for i, point in enumerate(points):
        _kill_at(env, point, *args)
        doc = _open_journal(env)
        assert doc["op"] == "keys rotate" and doc["runs"] == i + 1
        if i == 0:  # other arguments while the rotation is half done: refused, exit 2
            res = env.run("keys", "rotate", "--batch", "7", check=False)
            assert res.returncode == 2 and "half done" in res.stderr, res.stderr
        if point == "re-encrypt:batch":  # killed between two batches: some values moved
            mid = _json(env, "keys", "status")
            moved = sum(by.get(mid["active_key"], 0) for by in mid["values_by_key"].values())
            assert moved > 0 and sum(mid["under_old_keys"].values()) > 0
    report = _json(env, *args)
    status = _json(env, "keys", "status")
    new = [k for k in status["keys"] if k not in before["keys"]]
    assert new == [report["new_key"]] and status["active_key"] == report["new_key"]
    assert report["ok"] and report["journal"]["runs"] == len(points) + 1
    assert report["journal"]["resumed_steps"] == ["activate key", "settle", "re-encrypt"]
    assert report["journal"]["reverted"] == []
    assert all(n == 0 for n in status["under_old_keys"].values())
    assert _repo(env, read) == {cid: f"이름 {cid}" for cid in names}
    assert not journal.open_journals(journal.directory(env.state_dir))
    assert _json(env, "verify", check=False)["ok"]
    with _admin(env) as conn:
        conn.execute("DELETE FROM customer_info WHERE customer_id LIKE 'jr-%'")


PROMOTE_POINTS = ["stop cluster", "clean copy settings", "swap data", "swap data:after",
                  "clear the rest", "forget cluster in etcd", "forget cluster in etcd:after",
                  "start new primary", "start new primary:after", "archive histories",
                  "up", "full backup", "full backup:after"]


def test_restore_promote_killed_at_every_step_ends_promoted_once(env: Env):
    with _admin(env) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS billdb.journal_probe (n int PRIMARY KEY, "
                     "v text)")
        conn.execute("TRUNCATE billdb.journal_probe")
        conn.execute("INSERT INTO billdb.journal_probe SELECT g, md5(g::text) "
                     "FROM generate_series(1, 5000) g")
        probe = "SELECT count(*), md5(string_agg(v, ',' ORDER BY n)) FROM billdb.journal_probe"
        marked = conn.execute(probe).fetchone()
        time.sleep(0.3)
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        time.sleep(0.3)
        conn.execute("INSERT INTO billdb.journal_probe VALUES (5001, 'after the target')")
    env.run("restore", "--time", target.isoformat(), "--as", "jp")
    fulls = _full_count(env)
    args = ("restore", "promote", "jp", "--yes")
    t0 = time.monotonic()
    for point in PROMOTE_POINTS:
        _kill_at(env, point, *args)
        assert _open_journal(env)["op"] == "restore promote"
    report = _json(env, *args)
    took = time.monotonic() - t0
    assert report["ok"] and report["journal"]["runs"] == len(PROMOTE_POINTS) + 1
    assert [r["step"] for r in report["journal"]["reverted"]] == ["swap data"] * 2
    assert _full_count(env) == {r: n + 1 for r, n in fulls.items()}  # one new full per repo
    with _admin(env) as conn:
        assert conn.execute(probe).fetchone() == marked
    members = _members(env)
    assert [m["role"] for m in members].count("primary") == 1
    assert all(m["state"] in ("running", "streaming") for m in members), members
    assert not _json(env, "restore", "list")["copies"]
    assert not journal.open_journals(journal.directory(env.state_dir))
    assert _json(env, "verify", check=False)["ok"]
    print(f"promote with {len(PROMOTE_POINTS)} kills and reruns: {took:.1f} s")
    with _admin(env) as conn:
        conn.execute("DROP TABLE billdb.journal_probe")


def _full_count(env: Env) -> dict[int, int]:
    backups = _json(env, "backup", "list")["backups"]
    return {r: sum(1 for b in backups if b["repo"] == r and b["type"] == "full")
            for r in (1, 2)}


def _writer_rows(env: Env, drill: str) -> int:
    with _admin(env) as conn:
        return conn.execute("SELECT count(*) FROM bill_inquiry_history WHERE user_id LIKE %s",
                            [f"drill-{drill}-%"]).fetchone()[0]


def _members(env: Env) -> list[dict]:
    return _json(env, "status", check=False)["members"]  # exits 1 while members are down


def _primary(env: Env) -> str:
    return next(m["name"] for m in _members(env) if m["role"] == "primary")


def test_switchover_killed_at_every_step_switches_once(env: Env):
    before = _primary(env)
    for point in ("switch", "switch:writing", "switch:after", "rejoin"):
        _kill_at(env, point, "switchover")
        assert _open_journal(env)["op"] == "switchover"
    report = _json(env, "switchover")
    assert report["ok"] and report["from"] == before and report["to"] != before
    assert _primary(env) == report["to"] and not report["measured"]  # switched once, by run 3
    reverted = report["journal"]["reverted"]
    assert [r["run"] for r in reverted] == [2, 3, 4]
    assert "; 0 of its writer rows" not in reverted[1]["detail"]  # the killed writer's rows
    assert _writer_rows(env, "switchover") == 0


def test_drill_dr_and_rebuild_killed_at_every_step_end_as_run_once(env: Env):
    for point in ("region failover", "region failover:writing", "region failover:after",
                  "repoint route"):
        _kill_at(env, point, "drill", "dr")
    report = _json(env, "drill", "dr")
    assert report["ok"] and report["promoted"] == "replica" and _primary(env) == "replica"
    assert report["journal"]["runs"] == 5
    routes = json.loads((env.state_dir / "routes.json").read_text())
    assert routes["write"][0] == next(m["port"] for m in _members(env) if m["name"] == "replica")
    for point in ("zone members", "fail back", "fail back:after", "dr state", "up"):
        _kill_at(env, point, "dr", "rebuild")
    env.run("dr", "rebuild")
    assert _primary(env) in ("zone1", "zone2") and not (env.state_dir / "dr.json").exists()
    assert _writer_rows(env, "dr") == 0
    assert not journal.open_journals(journal.directory(env.state_dir))
    assert _json(env, "verify", check=False)["ok"]


def test_drill_failover_killed_while_its_node_is_held_is_released_by_the_rerun(env: Env):
    """Killed right after the crash, the drill leaves the old primary's node held stopped;
    the rerun reverts the run (every member released to supervision), then drills again."""
    before = _primary(env)
    ctx = env.context()
    held = patroni.service(ctx.local, ctx.layout, next(m for m in ctx.members
                                                        if m.name == before))
    _kill_at(env, "run 1:crashed", "drill", "failover")
    assert _open_journal(env)["op"] == "drill failover"
    assert process.running_pid(held) is None  # the node is still "lost"
    report = _json(env, "drill", "failover")
    assert report["ok"] and report["lost_commits"] == 0, report
    [reverted] = report["journal"]["reverted"]
    assert reverted["step"] == "run 1" and before in reverted["detail"], reverted
    assert process.running_pid(held) and not journal.open_journals(
        journal.directory(env.state_dir))
