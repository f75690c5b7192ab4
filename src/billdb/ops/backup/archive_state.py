"""What each pgBackRest repository holds of the WAL, read from pgBackRest itself, and the WAL
it dropped at `archive-push-queue-max` (render/bounds.py, docs/bounds.md).

`pg_stat_archiver` cannot tell the repositories apart, and with an unreachable repository the
push hangs before PostgreSQL hears of a failure. So the archive is judged per repository:
`pgbackrest info --repo=N` gives the newest WAL segment it holds, and the age of the oldest
segment the primary has completed but the repository lacks is the repository's exposure (a
lost primary would take that much data with it): the archive alert compares it with the RPO.
When the queue bound is hit pgBackRest drops WAL and logs it; a repository whose newest full
backup is older than the last drop cannot recover across the gap: its backups are broken until
a new full one exists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from billdb.context import Context
from billdb.errors import BilldbError
from billdb.ops.backup import common

INFO_TIMEOUT_S = 120
_SEGMENT = re.compile(r"^[0-9A-F]{24}$")
_DROP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) .*WARN: dropped WAL file "
                   r"'?([0-9A-F]{24})'? because archive queue exceeded")


@dataclass(frozen=True)
class RepoArchive:
    repo: int
    status_code: int  # pgBackRest's status of the repository: 0 ok
    message: str
    max_wal: str | None  # the newest WAL segment in the repository

    @property
    def label(self) -> str:
        return f"repo{self.repo}"


@dataclass(frozen=True)
class Drop:
    at: datetime  # aware
    wal: str


def repo_archive(ctx: Context, repo: int) -> RepoArchive:
    """`pgbackrest info --repo=N`: one repository only, so one that hangs delays nothing."""
    eng = common.engine(ctx)
    try:
        res = eng.run("info", "--output=json", f"--repo={repo}", timeout=INFO_TIMEOUT_S)
        stanza = next((s for s in json.loads(res.stdout) if s.get("name") == eng.stanza), {})
    except (BilldbError, ValueError) as exc:
        return RepoArchive(repo, 99, str(exc).splitlines()[0][:200], None)
    status = next((r.get("status", {}) for r in stanza.get("repo", [])
                   if r.get("key") == repo), {})
    maxes = [a["max"] for a in stanza.get("archive", [])
             if a.get("database", {}).get("repo-key") == repo and a.get("max")]
    return RepoArchive(repo, int(status.get("code", 99)), str(status.get("message", "")),
                       max(maxes, key=lambda w: w[8:]) if maxes else None)


def oldest_missing_age(pg_wal: Path, repo_max: str | None, current_wal: str,
                       now: float) -> float:
    """Seconds since the oldest segment the primary has completed (older than `current_wal`,
    the one being written) and the repository lacks (newer than `repo_max`) was written;
    0 when the repository has them all. Compared without the timeline, so a failover's
    new timeline continues the count."""
    if repo_max is None:
        return 0.0
    ages = []
    for f in pg_wal.iterdir() if pg_wal.is_dir() else []:
        name = f.name
        if _SEGMENT.match(name) and repo_max[8:] < name[8:] < current_wal[8:]:
            try:
                ages.append(now - f.stat().st_mtime)
            except OSError:  # recycled meanwhile
                continue
    return max(ages, default=0.0)


def drop_log_files(ctx: Context) -> list[Path]:
    d = common.paths(ctx).log_dir
    return sorted(d.glob("*archive-push*.log")) if d.is_dir() else []


def parse_drops(text: str) -> list[Drop]:
    """pgBackRest's warning for each WAL file it dropped (its log time is the host's)."""
    out = []
    for line in text.splitlines():
        m = _DROP.match(line)
        if m:
            at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").astimezone()
            out.append(Drop(at, m.group(2)))
    return out


def drops(ctx: Context) -> list[Drop]:
    out: list[Drop] = []
    for f in drop_log_files(ctx):
        out += parse_drops(f.read_text(encoding="utf-8", errors="replace"))
    return sorted(out, key=lambda d: d.at)


def broken_repos(last_drop: Drop | None, newest_full_start: dict[int, int]) -> list[int]:
    """The repositories whose newest full backup started before the last drop (or that have
    none): their point-in-time recovery crosses the gap."""
    if last_drop is None:
        return []
    ts = last_drop.at.timestamp()
    return [repo for repo in common.REPOS if newest_full_start.get(repo, 0) <= ts]
