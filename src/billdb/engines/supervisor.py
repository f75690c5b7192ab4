"""supervisord (PyPI `supervisor`): one per environment, the parent of every server program.

<state_dir>/supervisor/
  supervisord.conf    the daemon's own settings (unix socket, log, pidfile), root 0600
  programs/NAME.conf  one [program:NAME] per server, written by `up`, root 0600 (some hold a
                      secret in `environment=`); included by supervisord.conf
  supervisor.sock     the XML-RPC socket (root 0700): billdb talks to supervisord only here
  supervisord.log     supervisord's own log: its "exited: ... not expected" lines count restarts

supervisord runs as root; each server program runs as the plan's OS user through `user=`.
A program that exits unexpectedly (a signal, a non-zero code) is started again at once; one
that dies within `startsecs` is retried with supervisord's growing backoff. PostgreSQL is
never a program: Patroni owns its postmaster.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
import xmlrpc.client
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billdb.engines.tools import venv_script
from billdb.errors import StepError
from billdb.fsutil import write_atomic
from billdb.retry import wait_until

RUNNING_STATES = ("STARTING", "RUNNING", "BACKOFF")
LOG_MAXBYTES = "10MB"
LOG_BACKUPS = 3
_BAD_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def program_name(service_name: str) -> str:
    """`patroni zone1` -> `patroni-zone1` (supervisord names allow no spaces or colons)."""
    return _BAD_NAME.sub("-", service_name).strip("-")


def executable() -> Path:
    return venv_script("supervisord")


def _quote(value: str) -> str:
    """supervisord expands %(name)s in its files: a literal % is written %%."""
    return value.replace("%", "%%")


def stdin_from_null(argv: list[str]) -> list[str]:
    """`argv` with its standard input from /dev/null; `exec` keeps the PID the program's.

    supervisord hands each program a pipe as standard input and never writes to it. A server
    must not inherit that: a PostgreSQL backend whose sync-rep commit wait ends on postmaster
    death stops sending to its client and reads its next command from standard input
    (PostgresMain's interactive path). On the pipe that read never ends, the orphan keeps
    the old shared memory attached, and no new postmaster can start in that data directory
    (seen as Patroni's `start failed` after `drill failover --postmaster-only`; on /dev/null
    the read ends at once and the orphan exits). docs/supervision.md.
    """
    return ["/bin/sh", "-c", 'exec "$0" "$@" </dev/null', *argv]


@dataclass(frozen=True)
class Program:
    """What supervisord needs to know about one server program."""

    name: str
    argv: list[str]
    logfile: Path
    user: str | None
    env: dict[str, str]
    cwd: Path | None
    priority: int
    stop_timeout: int
    startsecs: int

    def config(self) -> str:
        env = ",".join(f'{k}="{_quote(v)}"' for k, v in sorted(self.env.items()))
        lines = [
            f"[program:{self.name}]",
            f"command={_quote(shlex.join(stdin_from_null(self.argv)))}",
            f"directory={self.cwd or '/'}",
            f"priority={self.priority}",
            "autostart=false",  # `billdb up` starts each in its order
            "autorestart=unexpected",
            "exitcodes=0",
            f"startsecs={self.startsecs}",
            "startretries=10",  # backoff 1 s, 2 s, ... before it gives up (FATAL)
            "stopsignal=TERM",
            f"stopwaitsecs={self.stop_timeout}",
            "redirect_stderr=true",
            f"stdout_logfile={self.logfile}",
            f"stdout_logfile_maxbytes={LOG_MAXBYTES}",
            f"stdout_logfile_backups={LOG_BACKUPS}",
        ]
        if self.user:
            lines.append(f"user={self.user}")
        if env:
            lines.append(f"environment={env}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ProgramState:
    """One program as getAllProcessInfo reports it."""

    name: str
    state: str  # supervisord's statename: RUNNING, STARTING, BACKOFF, STOPPED, FATAL, ...
    pid: int
    spawnerr: str
    start: int = 0  # when it was last started, and supervisord's clock (epoch seconds)
    now: int = 0

    @classmethod
    def from_rpc(cls, row: Mapping[str, Any]) -> ProgramState:
        return cls(row["name"], row["statename"], int(row.get("pid") or 0),
                   row.get("spawnerr") or "", int(row.get("start") or 0),
                   int(row.get("now") or 0))

    @property
    def uptime_s(self) -> int | None:
        return self.now - self.start if self.state == "RUNNING" else None

    @property
    def shown(self) -> str:
        pid = f" (pid {self.pid})" if self.pid else ""
        return f"{self.state}{pid}" + (f": {self.spawnerr}" if self.spawnerr else "")


class Supervisor:
    """The environment's supervisord, reached over its unix socket."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def programs_dir(self) -> Path:
        return self.root / "programs"

    @property
    def sock(self) -> Path:
        return self.root / "supervisor.sock"

    @property
    def log(self) -> Path:
        return self.root / "supervisord.log"

    @property
    def pidfile(self) -> Path:
        return self.root / "supervisord.pid"

    def rpc(self) -> Any:
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.sock}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def running(self) -> bool:
        if not self.sock.exists():
            return False
        try:
            return self.rpc().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def main_config(self) -> str:
        return "\n".join([
            "; Written by billdb: this environment's supervisord (runs as root).",
            "[unix_http_server]",
            f"file={self.sock}",
            "chmod=0700",
            "[supervisord]",
            f"logfile={self.log}",
            f"logfile_maxbytes={LOG_MAXBYTES}",
            f"logfile_backups={LOG_BACKUPS}",
            "loglevel=info",
            f"pidfile={self.pidfile}",
            f"childlogdir={self.root}",
            f"directory={self.root}",
            "identifier=billdb",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "[supervisorctl]",
            f"serverurl=unix://{self.sock}",
            "[include]",
            f"files={self.programs_dir}/*.conf",
            "",
        ])

    def ensure_running(self, timeout: float = 20) -> bool:
        """Start supervisord unless it answers; True when started now."""
        if self.running():
            return False
        self.programs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        os.chmod(self.programs_dir, 0o700)
        _write(self.conf, self.main_config())
        with contextlib.suppress(FileNotFoundError):
            self.sock.unlink()  # a dead daemon's socket
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        res = subprocess.run([str(executable()), "-c", str(self.conf)], capture_output=True,
                             text=True, env=env, cwd="/", check=False, timeout=30)
        if wait_until(self.running, timeout, 0.1):
            return True
        detail = (res.stderr or res.stdout).strip().splitlines()[-1:] or [""]
        raise StepError("supervisord", f"did not start: {detail[0]}", str(self.log))

    def ensure_program(self, prog: Program) -> None:
        """Write the program's file and let supervisord add it or take its changes."""
        path = self.programs_dir / f"{prog.name}.conf"
        changed = _write(path, prog.config())
        api = self.rpc()
        known = any(g["name"] == prog.name for g in api.getAllProcessInfo())
        if known and not changed:
            return
        added, modified, _removed = api.reloadConfig()[0]
        if prog.name in modified or (known and changed):
            with contextlib.suppress(xmlrpc.client.Fault):
                api.stopProcess(prog.name, True)
            with contextlib.suppress(xmlrpc.client.Fault):
                api.removeProcessGroup(prog.name)
            api.addProcessGroup(prog.name)
        elif prog.name in added or not known:
            with contextlib.suppress(xmlrpc.client.Fault):
                api.addProcessGroup(prog.name)

    def _read(self, method: str, *args: object) -> Any:
        """One XML-RPC read; None when supervisord does not answer or does not know it."""
        if not self.sock.exists():
            return None
        try:
            return getattr(self.rpc(), method)(*args)
        except (OSError, xmlrpc.client.Error):
            return None

    def info(self, name: str) -> ProgramState | None:
        """getProcessInfo, typed; None when supervisord or the program is unknown."""
        row = self._read("getProcessInfo", name)
        return ProgramState.from_rpc(row) if row else None

    def all_info(self) -> list[ProgramState] | None:
        """getAllProcessInfo, typed; None when supervisord does not answer."""
        rows = self._read("getAllProcessInfo")
        return None if rows is None else [ProgramState.from_rpc(r) for r in rows]

    def start(self, prog: Program) -> tuple[int, bool]:
        self.ensure_running()
        self.ensure_program(prog)
        api = self.rpc()
        info = ProgramState.from_rpc(api.getProcessInfo(prog.name))
        started = False
        if info.state != "RUNNING":
            try:
                if info.state in ("STARTING", "BACKOFF"):
                    _wait_state(api, prog.name, "RUNNING", prog.startsecs + 30)
                else:
                    api.startProcess(prog.name, True)
                started = True
            except xmlrpc.client.Fault as exc:
                raise StepError(prog.name, f"did not start ({exc.faultString})",
                                str(prog.logfile)) from None
            info = ProgramState.from_rpc(api.getProcessInfo(prog.name))
        if info.state != "RUNNING":
            raise StepError(prog.name, f"{info.state}: {info.spawnerr or 'exited'}",
                            str(prog.logfile))
        return info.pid, started

    def stop(self, name: str) -> bool:
        """Stop through supervisord (its stopsignal, then SIGKILL after stopwaitsecs)."""
        info = self.info(name)
        if not info or info.state not in (*RUNNING_STATES, "STOPPING"):
            return False
        try:
            self.rpc().stopProcess(name, True)
        except xmlrpc.client.Fault:
            return False
        return True

    def hold(self, name: str, timeout: float = 60, kill_after: float = 5) -> None:
        """Keep a program down after it was killed: a restart already under way is stopped
        at once, as if the machine were gone. A restart that does not stop within
        `kill_after` seconds (a new Patroni busy starting its PostgreSQL does not act on
        SIGTERM until its loop comes round) gets SIGKILL, as a lost machine would."""
        api = self.rpc()
        deadline = time.monotonic() + timeout
        stopping_since: float | None = None
        while time.monotonic() < deadline:
            info = ProgramState.from_rpc(api.getProcessInfo(name))
            state = info.state
            if state in ("STOPPED", "FATAL"):
                return
            if state == "STOPPING":
                stopping_since = stopping_since or time.monotonic()
                if time.monotonic() - stopping_since > kill_after and info.pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(info.pid, signal.SIGKILL)
            if state in RUNNING_STATES:
                with contextlib.suppress(xmlrpc.client.Fault):
                    api.stopProcess(name, False)
            time.sleep(0.02)
        raise StepError(name, "could not be held stopped")

    def lose(self, name: str, with_it: Callable[[], None]) -> int | None:
        """The program's machine is lost, at once and for good (until `start`): it is frozen
        (SIGSTOP: it can act no more, and supervisord still sees it running), `with_it` kills
        what dies with it (its postmaster), supervisord is told to stop it, so its death is
        expected, and SIGKILL ends it. Unlike kill then `hold`, no restart can slip in
        between: a restarted Patroni that got as far as starting its PostgreSQL would act as
        the primary again for a moment. Returns the pid it killed (None if none ran)."""
        api = self.rpc()
        info = ProgramState.from_rpc(api.getProcessInfo(name))
        pid = info.pid if info.state in RUNNING_STATES and info.pid else None
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        with_it()
        with contextlib.suppress(xmlrpc.client.Fault):
            api.stopProcess(name, False)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.hold(name)
        return pid

    def shutdown(self, timeout: float = 120) -> bool:
        """Stop every program (reverse priority) and then supervisord itself."""
        if not self.running():
            return False
        pid = _read_pid(self.pidfile)
        with contextlib.suppress(OSError, xmlrpc.client.Error):
            self.rpc().stopAllProcesses(True)
        with contextlib.suppress(OSError, xmlrpc.client.Error):
            self.rpc().shutdown()
        if pid:
            wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout, 0.1)
        return True

    def restarts(self) -> dict[str, int]:
        """Unexpected exits per program, read from supervisord's log (and its rotations)."""
        counts: dict[str, int] = {}
        pattern = re.compile(r"exited: (\S+) \(.*; not expected\)")
        files = [self.log, *(Path(f"{self.log}.{i}") for i in range(1, LOG_BACKUPS + 1))]
        for f in files:
            try:
                text = f.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for m in pattern.finditer(text):
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        return counts


def _wait_state(api: Any, name: str, want: str, timeout: float) -> None:
    wait_until(lambda: api.getProcessInfo(name)["statename"] in (want, "FATAL"), timeout, 0.2)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _write(path: Path, text: str) -> bool:
    """Root 0600, atomically; True when the content changed."""
    return write_atomic(path, text, 0o600)
