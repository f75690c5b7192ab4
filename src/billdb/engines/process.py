"""Server processes: start as the unprivileged OS user, find, stop.

A Service with a `supervisor` directory is a program of the environment's supervisord
(engines/supervisor.py): supervisord starts it, restarts it when it dies, rotates its log, and
billdb asks it for the PID. A Service without one (a short-lived throwaway such as the lint
scratch server or a restored copy) stays a plain child: billdb starts it in its own session,
records its PID, and later finds it by that PID (checking the command line, so a recycled PID
is not taken for ours). `setpriv` replaces itself with the server, so the PID is its own
(and so does `chrt`, which gives a relay such as PgBouncer its real-time priority first).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from billdb.engines import supervisor as sv
from billdb.errors import StepError
from billdb.retry import wait_until

# Children started by this process: polling them reaps them when they die.
_children: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class Service:
    """One long-running server program."""

    name: str
    argv: list[str]
    pidfile: Path
    logfile: Path
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    supervisor: Path | None = None  # the environment's supervisord directory; None: a child
    priority: int = 500  # supervisord starts low numbers first and stops them last
    stop_timeout: int = 30
    startsecs: int = 1  # must stay up this long to count as started (else: backoff, retry)
    # the pidfile of a detached child that must die with the program when its machine is lost
    # (Patroni's postmaster runs in a session of its own)
    companion: Path | None = None
    # real-time round-robin priority (SCHED_RR, 1 the lowest), for a relay every query passes
    # through: it must not wait for a CPU behind the work it relays (docs/topology.md)
    realtime_priority: int | None = None

    @property
    def program(self) -> str:
        return sv.program_name(self.name)


def _base_env(user: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **extra}
    if user:
        env.setdefault("HOME", os_user(user).pw_dir)
    return env


def as_user(argv: list[str], user: str | None) -> list[str]:
    """`argv` run as `user` (when root): setpriv replaces itself with the program."""
    if not user or os.geteuid() != 0:
        return list(argv)
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *argv]


def launch_argv(svc: Service) -> list[str]:
    """What starts the service as root: its real-time priority set (chrt needs root, so it
    comes first), then its user (setpriv); both replace themselves, the PID is the server's."""
    argv = as_user(svc.argv, svc.user)
    if svc.realtime_priority and os.geteuid() == 0:
        argv = ["chrt", "--rr", str(svc.realtime_priority), *argv]
    return argv


def scheduling(pid: int) -> str:
    """The process's CPU scheduling policy and priority, e.g. "SCHED_RR 1"."""
    names = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_BATCH: "SCHED_BATCH",
             os.SCHED_IDLE: "SCHED_IDLE", os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_RR: "SCHED_RR"}
    try:
        policy, param = os.sched_getscheduler(pid), os.sched_getparam(pid)
    except OSError as exc:
        return f"unknown ({exc.strerror})"
    return f"{names.get(policy, str(policy))} {param.sched_priority}"


def supervised(svc: Service) -> sv.Program | None:
    if svc.supervisor is None:
        return None
    user = svc.user if os.geteuid() == 0 else None
    argv = list(svc.argv)
    if svc.realtime_priority and user:
        argv, user = launch_argv(svc), None  # supervisord would drop to the user before chrt
    return sv.Program(name=svc.program, argv=argv, logfile=svc.logfile, user=user,
                      env=_base_env(svc.user, svc.env), cwd=svc.cwd, priority=svc.priority,
                      stop_timeout=svc.stop_timeout, startsecs=svc.startsecs)


def supervisor_of(svc: Service) -> sv.Supervisor | None:
    return sv.Supervisor(svc.supervisor) if svc.supervisor else None


def os_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise StepError("host", f"OS user {name!r} does not exist (install postgresql-15)") \
            from None


def chown_tree(path: Path, user: str) -> None:
    pw = os_user(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def alive(pid: int) -> bool:
    """True when `pid` runs (a zombie does not count; our own dead children are reaped)."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [p.decode(errors="replace") for p in fh.read().split(b"\0") if p]
    except OSError:
        return []


def running_pid(svc: Service) -> int | None:
    """The PID of the running service, or None (a stale pidfile is ignored)."""
    sup = supervisor_of(svc)
    if sup is not None:
        info = sup.info(svc.program)
        ok = info is not None and info.state in ("STARTING", "RUNNING") and info.pid
        return info.pid if ok else None
    return _pidfile_pid(svc)


def _pidfile_pid(svc: Service) -> int | None:
    try:
        pid = int(svc.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if not alive(pid):
        return None
    cmd = _cmdline(pid)
    marker = svc.argv[-1]  # the config file or last argument identifies our instance
    if not any(marker in part for part in cmd):
        return None
    return pid


def start(svc: Service) -> tuple[int, bool]:
    """Start the service unless it runs; returns (pid, started_now)."""
    prog = supervised(svc)
    if prog is not None:
        svc.logfile.parent.mkdir(parents=True, exist_ok=True)
        _stop_unsupervised(svc)
        return sv.Supervisor(svc.supervisor).start(prog)
    pid = running_pid(svc)
    if pid:
        return pid, False
    svc.logfile.parent.mkdir(parents=True, exist_ok=True)
    argv, env = launch_argv(svc), _base_env(svc.user, svc.env)
    log = open(svc.logfile, "ab")  # noqa: SIM115 - handed to the child
    try:
        if svc.user:
            os.chown(svc.logfile, os_user(svc.user).pw_uid, -1)
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=svc.cwd, start_new_session=True, close_fds=True,
        )
    finally:
        log.close()
    _children[proc.pid] = proc
    svc.pidfile.write_text(f"{proc.pid}\n")
    time.sleep(0.2)
    if not alive(proc.pid):
        raise StepError(svc.name, "exited right after start", str(svc.logfile))
    return proc.pid, True


def stop(svc: Service, timeout: float = 30.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`; True when something was stopped."""
    sup = supervisor_of(svc)
    if sup is not None:
        return _stop_unsupervised(svc, timeout) | sup.stop(svc.program)
    pid = running_pid(svc)
    if not pid:
        svc.pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    if not wait_dead(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        wait_dead(pid, 5)
    svc.pidfile.unlink(missing_ok=True)
    return True


def _stop_unsupervised(svc: Service, timeout: float = 30.0) -> bool:
    """A server that an older billdb started by pidfile: stopped, so its program can own the
    port (an environment made before supervision moves under supervisord on its next `up`)."""
    if not svc.pidfile.exists():
        return False
    plain = Service(svc.name, svc.argv, svc.pidfile, svc.logfile, svc.user, svc.env, svc.cwd)
    pid = _pidfile_pid(plain)
    sup = supervisor_of(svc)
    got = sup.info(svc.program) if sup else None
    if not pid or (got and got.pid == pid):
        svc.pidfile.unlink(missing_ok=True)
        return False
    return stop(plain, timeout)


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_dead(pid: int, timeout: float) -> bool:
    return wait_until(lambda: not alive(pid), timeout, 0.05)


def run(argv: list[str], *, user: str | None = None, check: bool = True, step: str = "",
        env: dict[str, str] | None = None, timeout: float | None = None,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a short command (as `user` when given) and capture its output."""
    argv, full_env = as_user(argv, user), _base_env(user, env or {})
    try:
        res = subprocess.run(argv, capture_output=True, text=True, env=full_env,
                             timeout=timeout, input=input, check=False, cwd="/")
    except FileNotFoundError:
        raise StepError(step or argv[0], f"program not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise StepError(step or argv[0], f"timed out after {timeout}s: {' '.join(argv)}") from None
    if check and res.returncode != 0:
        detail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise StepError(step or argv[0], f"exit {res.returncode}: {' | '.join(detail)}")
    return res


def hold(svc: Service) -> None:
    """Keep a supervised program stopped after it was killed (no restart until `start`).
    A restart that got as far as starting the companion (a new postmaster) loses it too."""
    sup = supervisor_of(svc)
    if sup is None:
        raise StepError(svc.name, "is not supervised: nothing restarts it")
    sup.hold(svc.program)
    pid = _companion_pid(svc)
    if pid is not None:
        kill(pid)
        wait_dead(pid, 10)


def lose(svc: Service) -> tuple[int | None, int | None]:
    """The supervised program's machine is lost: it and its companion die together and
    nothing restarts them until `start` (see Supervisor.lose). (program pid, companion pid)."""
    sup = supervisor_of(svc)
    if sup is None:
        raise StepError(svc.name, "is not supervised: nothing restarts it")
    killed: list[int] = []

    def companion() -> None:
        pid = _companion_pid(svc)
        if pid is not None:
            kill(pid)
            killed.append(pid)

    pid = sup.lose(svc.program, companion)
    for dead in killed:
        wait_dead(dead, 10)
    return pid, killed[0] if killed else None


def _companion_pid(svc: Service) -> int | None:
    if svc.companion is None:
        return None
    try:
        pid = int(svc.companion.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    owner = str(svc.companion.parent)
    return pid if alive(pid) and any(owner in part for part in _cmdline(pid)) else None


def info(svc: Service) -> dict:
    """supervisord's view of the program: state, pid, uptime_s, restarts ({} when unknown)."""
    sup = supervisor_of(svc)
    if sup is None:
        return {}
    got = sup.info(svc.program)
    if not got:
        return {"supervisor": "not running" if not sup.running() else "unknown program"}
    return {"supervisor_state": got.state, "uptime_s": got.uptime_s,
            "restarts": sup.restarts().get(svc.program, 0), "spawnerr": got.spawnerr or None}
