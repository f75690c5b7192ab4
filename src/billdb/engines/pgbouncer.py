"""PgBouncer (1.24 from Debian 13's source, built into .tools by scripts/install.sh: Debian 12's
1.18 cannot keep prepared statements), supervised like the other servers: runs in the
foreground as the environment's OS user, logs to its log file, rereads its configuration on
SIGHUP.

<state_dir>/pooler/
  pgbouncer.ini   rendered by billdb (no secrets), 0644
  userlist.txt    the auth_file: SCRAM verifiers, 0600 owned by the OS user
  pgbouncer.log, pgbouncer.pid, follower.log, follower.pid
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path

from billdb.engines import process
from billdb.engines.tools import TOOLS_DIR
from billdb.errors import StepError
from billdb.fsutil import write_atomic
from billdb.layout import Layout
from billdb.plan.local_models import LocalEnvironment

BINARY = TOOLS_DIR / "pgbouncer" / "bin" / "pgbouncer"
SOURCE_VERSION = TOOLS_DIR / "pgbouncer" / "SOURCE_VERSION"  # the Debian source it was built from
APT_CONFIG = TOOLS_DIR / "debian-src" / "apt.conf"  # billdb's own apt state for that source
PREPARED_STATEMENTS_SINCE = (1, 21)  # max_prepared_statements
REALTIME_PRIORITY = 1  # SCHED_RR: the lowest real-time priority (kernel throttling keeps 5 %)


@dataclass(frozen=True)
class PoolerPaths:
    root: Path

    @classmethod
    def of(cls, layout: Layout) -> PoolerPaths:
        return cls(layout.state_dir / "pooler")

    @property
    def ini(self) -> Path:
        return self.root / "pgbouncer.ini"

    @property
    def auth_file(self) -> Path:
        return self.root / "userlist.txt"

    @property
    def log(self) -> Path:
        return self.root / "pgbouncer.log"

    @property
    def pidfile(self) -> Path:
        return self.root / "pgbouncer.pid"

    @property
    def follower_log(self) -> Path:
        return self.root / "follower.log"

    @property
    def follower_pidfile(self) -> Path:
        return self.root / "follower.pid"


def version(user: str) -> tuple[int, ...] | None:
    """The installed PgBouncer's version as `user` runs it; None when that user cannot."""
    try:
        out = process.run([str(BINARY), "--version"], user=user, check=False, timeout=10).stdout
    except StepError:  # missing
        return None
    found = re.match(r"PgBouncer (\d+(?:\.\d+)*)", out)
    return tuple(int(n) for n in found.group(1).split(".")) if found else None


def source_versions() -> tuple[str | None, str | None]:
    """(the Debian source version built, the newest in Debian 13's sources after refreshing
    billdb's own apt lists for them); None where unknown (e.g. the archive unreachable)."""
    try:
        built: str | None = SOURCE_VERSION.read_text(encoding="utf-8").strip() or None
    except OSError:
        built = None
    env = {"APT_CONFIG": str(APT_CONFIG)}
    if not APT_CONFIG.exists() or process.run(["apt-get", "-q", "update"], env=env,
                                              check=False, timeout=120).returncode != 0:
        return built, None
    # the source apt would fetch: its own choice of the newest version
    out = process.run(["apt-get", "-q", "source", "--print-uris", "pgbouncer"], env=env,
                      check=False, timeout=30).stdout
    found = re.search(r" pgbouncer_(\S+)\.dsc ", out)
    return built, found.group(1) if found else None


def check_installed(user: str, prepared_statements: bool) -> str:
    """The installed one's name and version ("PgBouncer 1.24.1"); StepError("host") when it
    is missing or too old for the plan's pooler.max_prepared_statements."""
    found = version(user)
    if found is None:
        raise StepError("host", f"the OS user {user} cannot run {BINARY}: run `make up` "
                        "(scripts/build_pgbouncer.sh)")
    name = "PgBouncer " + ".".join(map(str, found))
    if prepared_statements and found < PREPARED_STATEMENTS_SINCE:
        raise StepError("host", f"{name} cannot keep prepared statements "
                        "(pooler.max_prepared_statements needs 1.21 or newer): run `make up` "
                        "(scripts/build_pgbouncer.sh)")
    return name


def service(env: LocalEnvironment, layout: Layout) -> process.Service:
    """PgBouncer relays every packet of every query, in one thread. On a machine whose CPUs
    the servers and the clients share, each relay would wait for a CPU (measured: it alone
    made the pooled path slower than the direct one); Azure's PgBouncer never waits behind
    the application's pods. So it runs at the lowest real-time priority (docs/topology.md)."""
    p = PoolerPaths.of(layout)
    return process.Service(name="pgbouncer", argv=[str(BINARY), str(p.ini)], pidfile=p.pidfile,
                           logfile=p.log, user=env.os_user,
                           supervisor=layout.supervisor_dir, priority=400,
                           realtime_priority=REALTIME_PRIORITY)


def reload(svc: process.Service) -> bool:
    """Make a running PgBouncer reread its configuration and auth_file; False if not running."""
    pid = process.running_pid(svc)
    if not pid:
        return False
    os.kill(pid, signal.SIGHUP)
    return True


def write_file(path: Path, text: str, mode: int, owner_uid: int | None = None) -> bool:
    """Write atomically when the content differs; True when it changed."""
    return write_atomic(path, text, mode, owner=owner_uid)
