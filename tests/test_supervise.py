"""Supervision (issue 9): supervisord brings every killed server back with no billdb command.

Each test kills real processes with SIGKILL and only watches: Patroni's REST API, supervisord
and the database. A writer commits through the write route during the kills; every
acknowledged row must be on the primary at the end. Times from kill to healthy are printed
(run with -s to see them). Every test leaves the cluster whole for the tests after it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import urllib.request

import psycopg
import pytest

from billdb.engines import etcd, patroni, pgbouncer, process
from billdb.ops import pooler
from billdb.ops.backup import services as backup_services
from billdb.ops.status import postmaster_pid
from billdb.state import cluster
from conftest import Env

INSERT = ("INSERT INTO bill_inquiry_history (request_id, user_id, line_number) "
          "VALUES (%s, %s, '010')")


@pytest.fixture(scope="module")
def env(fresh_env: Env) -> Env:
    """This file's own environment: its drills change the cluster's shape, and a long shared
    history of failovers and promotions must not decide what the next file's checks see."""
    return fresh_env


def _cluster(env: Env) -> dict:
    for m in env.context().members:
        with contextlib.suppress(OSError, ValueError):
            url = f"http://127.0.0.1:{m.rest_port}/cluster"
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.loads(resp.read())
    return {}


def _whole(env: Env) -> bool:
    """A running leader, a synchronous standby, and every other member streaming."""
    members = _cluster(env).get("members", [])
    if len(members) != len(env.context().members):
        return False
    roles = sorted(m["role"] for m in members)
    ok = all(m["state"] == ("running" if m["role"] == "leader" else "streaming")
             for m in members)
    return ok and roles == ["leader", "replica", "sync_standby"]


def _role_of(env: Env, name: str) -> str | None:
    return next((m["role"] for m in _cluster(env).get("members", []) if m["name"] == name),
                None)


def _leader(env: Env) -> str | None:
    return next((m["name"] for m in _cluster(env).get("members", [])
                 if m["role"] == "leader" and m["state"] == "running"), None)


def _name_with(env: Env, role: str) -> str:
    return next(m["name"] for m in _cluster(env)["members"] if m["role"] == role)


def _wait(predicate, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def _kill_member(env: Env, name: str) -> tuple[process.Service, int]:
    """SIGKILL to the member's Patroni and postmaster; (its service, the dead postmaster)."""
    ctx = env.context()
    svc = patroni.service(ctx.local, ctx.layout, ctx.member(name))
    pid, pm = process.running_pid(svc), postmaster_pid(ctx.layout.member(name).data)
    assert pid and pm, f"{name}: Patroni {pid}, postmaster {pm}"
    os.kill(pid, signal.SIGKILL)
    os.kill(pm, signal.SIGKILL)
    return svc, pm


def _lose_member(env: Env, name: str) -> tuple[process.Service, int]:
    """The member's machine is lost: Patroni and postmaster die and stay down until started."""
    ctx = env.context()
    svc = patroni.service(ctx.local, ctx.layout, ctx.member(name))
    pid, pm = process.lose(svc)
    assert pid and pm, f"{name}: Patroni {pid}, postmaster {pm}"
    return svc, pm


def _healed(env: Env, name: str, dead_pm: int) -> bool:
    """Whole again, `name` with a new postmaster (etcd may show a dead member for a ttl)."""
    pm = postmaster_pid(env.context().layout.member(name).data)
    return pm not in (None, dead_pm) and _whole(env)


def _verify_ok(env: Env) -> None:
    report = json.loads(env.run("verify", "--json", check=False).stdout)
    assert report["ok"], [c for c in report["checks"] if not c["ok"]]


class Writer(threading.Thread):
    """Commits one row at a time through the write route; reconnects after a failure."""

    def __init__(self, env: Env, tag: str) -> None:
        super().__init__(daemon=True)
        self.dsn = env.dsn("admin") + "&connect_timeout=2"
        self.user = f"{tag}-{int(time.time())}"
        self.acked: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n, conn = 0, None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(self.dsn, autocommit=True)
                n += 1
                rid = f"{self.user}-{n}"
                conn.execute(INSERT, [rid, self.user])
                self.acked.append(rid)
                time.sleep(0.02)
            except psycopg.Error:
                with contextlib.suppress(Exception):
                    conn.close()
                conn = None
                time.sleep(0.2)

    def finish(self, env: Env) -> list[str]:
        """Stop; the acknowledged rows missing on the primary (then delete the test's rows)."""
        self.stop.set()
        self.join(30)
        with psycopg.connect(env.dsn("admin"), autocommit=True) as conn:
            present = {r[0] for r in conn.execute(
                "SELECT request_id FROM bill_inquiry_history WHERE user_id = %s", [self.user])}
            conn.execute("DELETE FROM bill_inquiry_history WHERE user_id = %s", [self.user])
        return sorted(set(self.acked) - present)


@pytest.fixture
def writer(env: Env):
    assert _wait(lambda: _whole(env), 90), "the cluster is not whole before the test"
    w = Writer(env, "supervise")
    w.start()
    assert _wait(lambda: len(w.acked) >= 10, 30)
    yield w
    w.stop.set()


@pytest.mark.parametrize("role", ["leader", "sync_standby"])
def test_killed_member_comes_back_by_itself(env: Env, writer: Writer, role: str):
    name = _name_with(env, role)
    ctx = env.context()
    restarts = process.info(patroni.service(ctx.local, ctx.layout, ctx.member(name)))["restarts"]
    t0 = time.monotonic()
    _, pm = _kill_member(env, name)
    assert _wait(lambda: _healed(env, name, pm), 60), f"{name} did not come back within 60 s"
    back = time.monotonic() - t0
    after = len(writer.acked)
    assert _wait(lambda: len(writer.acked) > after + 10, 30), "writes did not resume"
    assert writer.finish(env) == []
    print(f"\nkill -9 of the {role} {name}: whole again after {back:.1f} s, now "
          f"{_role_of(env, name)}")
    svc = patroni.service(ctx.local, ctx.layout, ctx.member(name))
    assert process.info(svc)["restarts"] == restarts + 1
    _verify_ok(env)


def test_status_shows_a_held_member_as_down_and_supervision_restarts_counted(env: Env):
    """While etcd still holds its key, a member whose Patroni does not answer is down."""
    assert _wait(lambda: _whole(env), 90)
    svc, _ = _lose_member(env, "replica")
    try:
        ctx = env.context()
        scope = ctx.local.patroni.scope
        assert etcd.get(ctx.local, ctx.layout, f"/billdb/{scope}/members/replica")  # the stale key
        report = json.loads(env.run("status", "--json", check=False).stdout)
        member = next(m for m in report["members"] if m["name"] == "replica")
        assert member["state"] == "down" and member["patroni_pid"] is None
        assert member["supervisor"]["supervisor_state"] == "STOPPED"
        assert not report["ok"]
    finally:
        process.start(svc)  # released: supervision runs it again
    assert _wait(lambda: _whole(env), 60)


@pytest.mark.parametrize("which", ["pgbouncer", "etcd", "scheduler", "pooler-follower"])
def test_killed_satellite_comes_back(env: Env, which: str):
    ctx = env.context()
    svc = {"pgbouncer": lambda: pgbouncer.service(ctx.local, ctx.layout),
           "etcd": lambda: etcd.service(ctx.local, ctx.layout),
           "scheduler": lambda: backup_services.scheduler(ctx),
           "pooler-follower": lambda: pooler.follower(ctx)}[which]()
    assert _wait(lambda: _whole(env), 90)
    pid = process.running_pid(svc)
    assert pid
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    assert _wait(lambda: process.running_pid(svc) not in (None, pid), 30, 0.1)
    back = time.monotonic() - t0
    assert _wait(lambda: _whole(env), 60)
    if which in ("pgbouncer", "etcd"):
        _verify_ok(env)
    print(f"\nkill -9 of {which}: running again after {back:.1f} s (pid {pid} -> "
          f"{process.running_pid(svc)})")


def test_five_failovers_in_a_row_heal_without_a_command(env: Env, writer: Writer):
    """Each time the primary's node is lost (killed, held down until a standby leads), then
    comes back: it rejoins by pg_rewind, fetching from the archive what it lacks."""
    ctx = env.context()
    times = []
    for n in range(5):
        old = _name_with(env, "leader")
        t0 = time.monotonic()
        svc, pm = _lose_member(env, old)
        assert _wait(lambda old=old: _leader(env) not in (old, None), 60, 0.2)
        process.start(svc)  # the machine is back; no billdb command runs
        assert _wait(lambda old=old, pm=pm: _healed(env, old, pm),
                     90 - (time.monotonic() - t0)), \
            f"failover {n + 1}: not whole within 90 s: {_cluster(env)}"
        times.append(round(time.monotonic() - t0, 1))
    assert writer.finish(env) == []
    print(f"\nfive node-loss failovers: whole again after {times} s; "
          f"{len(writer.acked)} commits acknowledged, none lost")
    for m in ctx.members:
        if _role_of(env, m.name) == "leader":
            continue
        with cluster.admin_connect(ctx, m) as conn:
            cmd = conn.execute("SELECT current_setting('restore_command')").fetchone()[0]
        assert "archive-get" in cmd and f"--pg1-path={ctx.layout.member(m.name).data}" in cmd
    _verify_ok(env)


@pytest.mark.unit
def test_program_file_restarts_on_unexpected_exit_and_rotates_its_log(tmp_path):
    from billdb.engines.supervisor import Program, program_name

    prog = Program(name=program_name("patroni zone1"), argv=["/x/patroni", "/s/p 1.yml"],
                   logfile=tmp_path / "patroni.log", user="postgres",
                   env={"PATH": "/usr/bin", "KEY": "a%b"}, cwd=None, priority=200,
                   stop_timeout=120, startsecs=2)
    text = prog.config()
    assert text.startswith("[program:patroni-zone1]\n")
    for line in ("autorestart=unexpected", "exitcodes=0", "startsecs=2", "user=postgres",
                 "priority=200", "stopwaitsecs=120", "stdout_logfile_maxbytes=10MB",
                 "stdout_logfile_backups=3",
                 "command=/bin/sh -c 'exec \"$0\" \"$@\" </dev/null' /x/patroni '/s/p 1.yml'",
                 'environment=KEY="a%%b",PATH="/usr/bin"'):
        assert line in text.splitlines()


@pytest.mark.unit
@pytest.mark.skipif(os.geteuid() != 0, reason="chrt and setpriv are used as root")
def test_a_realtime_program_is_raised_by_chrt_as_root_then_runs_as_its_user(tmp_path):
    svc = process.Service(name="pgbouncer", argv=["/t/pgbouncer", "/s/pgbouncer.ini"],
                          pidfile=tmp_path / "p.pid", logfile=tmp_path / "p.log",
                          user="postgres", supervisor=tmp_path, realtime_priority=1)
    prog = process.supervised(svc)
    assert prog.argv == ["chrt", "--rr", "1", "setpriv", "--reuid=postgres",
                         "--regid=postgres", "--init-groups", "--", "/t/pgbouncer",
                         "/s/pgbouncer.ini"]
    assert prog.user is None and "user=" not in prog.config()  # chrt needs root
    plain = process.supervised(process.Service(
        name="etcd", argv=["/usr/bin/etcd"], pidfile=tmp_path / "e.pid",
        logfile=tmp_path / "e.log", user="postgres", supervisor=tmp_path))
    assert plain.argv == ["/usr/bin/etcd"] and plain.user == "postgres"
    assert process.scheduling(os.getpid()) == "SCHED_OTHER 0"


@pytest.mark.unit
def test_restarts_are_the_unexpected_exits_in_supervisords_log(tmp_path):
    from billdb.engines.supervisor import Supervisor

    sup = Supervisor(tmp_path)
    sup.log.write_text(
        "2026-12-01 INFO exited: etcd (terminated by SIGKILL; not expected)\n"
        "2026-12-01 INFO stopped: etcd (exit status 0)\n"
        "2026-12-01 INFO exited: patroni-zone1 (exit status 0; expected)\n")
    (tmp_path / "supervisord.log.1").write_text(
        "2026-11-30 WARN exited: etcd (exit status 1; not expected)\n")
    assert sup.restarts() == {"etcd": 2}


@pytest.mark.unit
def test_archive_and_restore_commands_name_the_member_data_directory():
    from pathlib import Path

    from billdb.internal import REPLICATION_USER, REWIND_USER, SUPERUSER
    from billdb.layout import Layout
    from billdb.plan.load import load_plan
    from billdb.render.patroni import member_config
    from conftest import PLAN

    plan = load_plan(PLAN)
    layout = Layout(Path("/s"))
    member = plan.environments.local.members[1]
    pw = dict.fromkeys((SUPERUSER, REPLICATION_USER, REWIND_USER), "x")
    cfg = member_config(plan, layout, member, pw)["postgresql"]
    data = f"--pg1-path=/s/members/{member.name}/data "
    assert data + "archive-get %f" in cfg["recovery_conf"]["restore_command"]
    assert data + "archive-push %p" in cfg["parameters"]["archive_command"]
    assert "$PWD" not in cfg["parameters"]["archive_command"]


def test_no_server_reads_supervisords_stdin_pipe(env: Env):
    """Every supervised program, each postmaster and a client's backend read standard input
    from /dev/null, never supervisord's pipe: a backend left behind by a dead postmaster
    reads its next command from standard input, and on the pipe it waits forever holding the
    shared memory no new postmaster may take (docs/supervision.md)."""
    ctx = env.context()
    programs = process.sv.Supervisor(ctx.layout.supervisor_dir).rpc().getAllProcessInfo()
    pids = {p["name"]: p["pid"] for p in programs if p["pid"]}
    assert len(pids) >= 5, pids
    for m in ctx.members:
        pids[f"postmaster of {m.name}"] = postmaster_pid(ctx.layout.member(m.name).data)
    with psycopg.connect(env.dsn("admin")) as conn:
        pids["a backend"] = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        stdin = {name: os.readlink(f"/proc/{pid}/fd/0") for name, pid in pids.items()}
    assert {name: t for name, t in stdin.items() if t != "/dev/null"} == {}
