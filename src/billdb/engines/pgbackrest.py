"""pgBackRest: backups, WAL archive, restores. billdb only runs the binary and reads its output.

Always with `--config` (Debian's /etc/pgbackrest.conf would be used silently otherwise) and as
the OS user that owns the data directories. `verify` exits 0 even when it finds a damaged
file, so its text output is parsed for errors.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billdb.engines import process
from billdb.errors import StepError
from billdb.retry import PollTimeout, poll

BINARY = "/usr/bin/pgbackrest"
# The first pgBackRest release that supports a PostgreSQL major version, from its release
# notes ("v2.52: PostgreSQL 17 Support"). Debian 12's 2.45 stops at 15: on a 17 cluster it
# fails with "VersionNotSupportedError: unexpected control version = 1700".
SUPPORTED_SINCE = {17: (2, 52)}


def version() -> tuple[int, ...] | None:
    """The installed pgBackRest's version, None when it is missing."""
    try:
        out = process.run([BINARY, "version"], check=False, timeout=10).stdout
    except StepError:
        return None
    found = re.match(r"pgBackRest (\d+(?:\.\d+)*)", out)
    return tuple(int(n) for n in found.group(1).split(".")) if found else None


def unsupported(major: int) -> str | None:
    """Why the installed pgBackRest cannot back up PostgreSQL `major`, or None."""
    need = SUPPORTED_SINCE.get(major)
    have = version()
    if need is None or have is None or have >= need:
        return None
    return (f"pgBackRest {'.'.join(map(str, have))} ({BINARY}) cannot back up PostgreSQL "
            f"{major}: support came in {'.'.join(map(str, need))}")


@dataclass(frozen=True)
class VerifyResult:
    repo: int
    ok: bool
    errors: list[str]
    output: str


LOCK_ACQUIRE_ERROR = 50  # pgBackRest's LockAcquireError: another process holds the lock


class PgBackRest:
    def __init__(self, config: Path, stanza: str, user: str) -> None:
        self.config = config
        self.stanza = stanza
        self.user = user

    def argv(self, command: str, *options: str) -> list[str]:
        return [BINARY, f"--config={self.config}", f"--stanza={self.stanza}", *options, command]

    def run(self, command: str, *options: str, check: bool = True,
            timeout: float | None = 3600) -> subprocess.CompletedProcess[str]:
        return process.run(self.argv(command, *options), user=self.user, check=check,
                           step=f"pgbackrest {command}", timeout=timeout)

    def stanza_create(self, lock_wait_s: float = 90) -> str:
        """stanza-create, waiting while another pgBackRest holds the stanza's lock in the
        configuration's lock-path: stanza-create fails at once on it (error 50) instead of
        waiting. The members' archive-push and archive-get lock in their own lock paths
        (render/pgbackrest.member_options), so they no longer hold it up."""
        try:
            res = poll(lambda: self.run("stanza-create", check=False), lock_wait_s, 1.0,
                       until=lambda r: r.returncode != LOCK_ACQUIRE_ERROR)
        except PollTimeout:
            raise StepError("pgbackrest stanza-create", f"the stanza's archive lock stayed "
                            f"held for {lock_wait_s:g} s (is another pgBackRest running?)"
                            ) from None
        if res.returncode != 0:
            detail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise StepError("pgbackrest stanza-create",
                            f"exit {res.returncode}: {' | '.join(detail)}")
        return res.stdout

    def check(self, timeout: float = 120) -> None:
        self.run("check", timeout=timeout)

    def backup(self, kind: str, repo: int, *, standby: bool = True) -> None:
        opts = [f"--type={kind}", f"--repo={repo}"]
        if not standby:
            opts.append("--no-backup-standby")
        self.run("backup", *opts)

    def expire(self, repo: int) -> None:
        self.run("expire", f"--repo={repo}")

    def info(self) -> list[dict[str, Any]]:
        """`info --output=json`: one dict per stanza."""
        res = self.run("info", "--output=json", timeout=120)
        try:
            return json.loads(res.stdout)
        except ValueError:
            raise StepError("pgbackrest info", "output is not JSON") from None

    def stanza_info(self) -> dict[str, Any]:
        for st in self.info():
            if st.get("name") == self.stanza:
                return st
        return {}

    def verify(self, repo: int) -> VerifyResult:
        """Run `verify` on one repository and read its report: exit 0 does not mean ok."""
        res = self.run("verify", f"--repo={repo}", "--output=text", "--verbose",
                       "--log-level-console=info", check=False, timeout=3600)
        text = (res.stdout or "") + (res.stderr or "")
        errors = verify_errors(text)
        ok = res.returncode == 0 and not errors
        if res.returncode != 0 and not errors:
            errors = [text.strip().splitlines()[-1] if text.strip() else f"exit {res.returncode}"]
        return VerifyResult(repo, ok, errors, text)

    def restore(self, *options: str, timeout: float = 3600) -> None:
        self.run("restore", *options, timeout=timeout)

    def archive_push(self, wal_path: Path, pg_path: Path) -> None:
        """Push one WAL or history file of the data directory `pg_path`, synchronously (no
        member's asynchronous queue is involved)."""
        process.run([*self.argv("archive-push", "--no-archive-async", f"--pg1-path={pg_path}"),
                     str(wal_path)],
                    user=self.user, step="pgbackrest archive-push", timeout=120)


_FILE_PROBLEM = re.compile(r"INFO: ((?:invalid|missing)[^']*)'([^']+)'")
_COUNTERS = re.compile(r"missing: (\d+), checksum invalid: (\d+), size invalid: (\d+), "
                       r"other: (\d+)")


def verify_errors(text: str) -> list[str]:
    """The damage named by `verify --output=text --verbose --log-level-console=info`: each bad
    file, each invalid backup or WAL range, the overall status."""
    found: dict[str, None] = {}
    context = ""
    for raw in text.splitlines():
        line = raw.strip()
        m = _FILE_PROBLEM.search(line)
        if m:
            found[f"{m.group(1).strip()}: {m.group(2)}"] = None
            continue
        if line.startswith(("archiveId:", "backup:")):
            context = line.split(",")[0]
            if "status: invalid" in line:
                found[line] = None
        m = _COUNTERS.search(line)
        if m and any(int(x) for x in m.groups()):
            found[f"{context}: {line}"] = None
        if re.search(r"(^|\s)status: error", line) or " ERROR: " in line:
            found[line] = None
    return list(found)
