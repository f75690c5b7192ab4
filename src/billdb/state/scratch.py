"""A throwaway PostgreSQL for the lint: initdb in /tmp, a private socket, gone afterwards.

Why not reuse a running environment: the document's SQL includes CREATE DATABASE and
ALTER SYSTEM, which cannot be rolled back, and a live environment already holds the
objects whose order the lint must check. A scratch server costs about a second.

The server listens on a unix socket in its own 0700 directory and on no TCP address, so
it cannot collide with anyone's port. It runs as the unprivileged OS user, is stopped by
the PID billdb recorded, and its directory is deleted. Directories left by a killed lint
(their server no longer running) are removed by the next one: the lint is idempotent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from billdb.engines import postgres, process, tools
from billdb.errors import BilldbError
from billdb.fsutil import append_line, write_atomic
from billdb.retry import PollTimeout, poll

PREFIX = "billdb-lint-pg-"
PORT = 5432  # only names the socket file inside the private directory: no TCP listener


@dataclass(frozen=True)
class Scratch:
    root: Path
    major: int

    def conninfo(self, dbname: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(
            host=str(self.root), port=PORT, user="postgres", dbname=dbname,
            application_name="billdb-lint", connect_timeout=10)

    def connect(self, dbname: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
        return postgres.attempt(self.conninfo(dbname), autocommit=autocommit)


def bin_dir(major: int, fallback: str) -> tuple[Path, int]:
    """The binaries of `major` when installed, else the plan's own (and their major)."""
    wanted = tools.postgres_bin(major)
    if wanted is not None:
        return wanted, major
    have = Path(fallback)
    if not (have / "postgres").exists():
        places = ", ".join(map(str, tools.postgres_bin_candidates(major)))
        raise BilldbError(f"no PostgreSQL binaries in {places} or {have}: "
                          "run scripts/install.sh")
    return have, tools.bin_major(have) or major


def _service(root: Path, binaries: Path, user: str | None) -> process.Service:
    argv = [str(binaries / "postgres"), "-D", str(root / "data"),
            "-c", "listen_addresses=", "-c", f"unix_socket_directories={root}",
            "-c", f"port={PORT}"]
    return process.Service(name="lint postgres", argv=argv, pidfile=root / "postgres.pid",
                           logfile=root / "postgres.log", user=user)


def _pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def remove_stale(tmp: Path | None = None) -> int:
    """Stop and delete what a lint killed half way left: its server (found by the PID it
    recorded, checked against the command line) and its directory. A directory whose
    owning lint process still runs is left alone."""
    removed = 0
    for root in (tmp or Path(tempfile.gettempdir())).glob(PREFIX + "*"):
        owner = _pid(root / "owner.pid")
        if owner and process.alive(owner):
            continue  # another lint (or a test session) is using it right now
        pid = _pid(root / "postgres.pid")
        if pid and process.alive(pid) and str(root) in _cmdline(pid):
            process.kill(pid, signal.SIGINT)  # fast shutdown
            if not process.wait_dead(pid, 10):
                process.kill(pid, signal.SIGKILL)
                process.wait_dead(pid, 5)
        shutil.rmtree(root, ignore_errors=True)
        removed += 1
    return removed


@contextlib.contextmanager
def scratch_server(major: int, fallback_bin: str, preload: list[str],
                   os_user: str = "postgres") -> Iterator[Scratch]:
    """initdb, start, yield, stop by PID, delete. Settings the document may change with
    ALTER SYSTEM go to postgresql.conf (not the command line, which would mask them)."""
    remove_stale()
    binaries, real_major = bin_dir(major, fallback_bin)
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    write_atomic(root / "owner.pid", f"{os.getpid()}\n", 0o644)
    user = os_user if os.geteuid() == 0 else None  # as root, never run the server as root
    svc = _service(root, binaries, user)
    try:
        if user:
            process.chown_tree(root, user)
        process.run([str(binaries / "initdb"), "-D", str(root / "data"), "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                    user=user, step="lint scratch initdb", timeout=120)
        conf = root / "data" / "postgresql.conf"
        append_line(conf, "\n# billdb plan lint scratch server\nfsync = off\n"
                    "shared_buffers = 32MB\nmax_connections = 20\n"
                    f"shared_preload_libraries = '{','.join(preload)}'")
        process.start(svc)
        _wait_ready(Scratch(root, real_major), svc)
        yield Scratch(root, real_major)
    finally:
        process.stop(svc, timeout=20)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(scratch: Scratch, svc: process.Service, timeout: float = 30) -> None:
    def look() -> bool:
        if not process.running_pid(svc):
            tail = svc.logfile.read_text(errors="replace").strip().splitlines()[-3:]
            raise BilldbError(f"the lint's scratch PostgreSQL exited: {' | '.join(tail)}")
        with scratch.connect():
            return True

    try:
        poll(look, timeout, 0.1, on=psycopg.OperationalError)
    except PollTimeout:
        raise BilldbError(f"the lint's scratch PostgreSQL did not accept connections in "
                          f"{timeout}s") from None
