"""Server logs capped in total size and age (issue 22; render/bounds.py, docs/bounds.md).

PostgreSQL rotates its log every hour or at `log_rotation_size` (a twentieth of the cap), each
file with its own name, but it never deletes one. The scheduler's `logs.prune` does, on every
member: files older than the age bound go, then the oldest until the total is under the cap.
The file PostgreSQL writes (the newest) is never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from billdb.context import Context
from billdb.ops.scheduler.calendar import Slot
from billdb.ops.scheduler.job import Job
from billdb.render.bounds import disk_bounds

S = "§14.1 error log"
PATTERN = "postgresql-*.log"
PRUNE_EVERY_MIN = 5  # at 1,000 users the primary logs ~1.4 GB/h: ~120 MB between prunes


@dataclass(frozen=True)
class Pruned:
    member: str
    removed: int
    removed_bytes: int
    kept: int
    kept_bytes: int


def _files(d: Path) -> list[tuple[Path, float, int]]:
    out = []
    for f in d.glob(PATTERN) if d.is_dir() else []:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((f, st.st_mtime, st.st_size))
    return sorted(out, key=lambda x: (x[1], x[0].name))


def prune_dir(member: str, d: Path, cap_bytes: int, max_age_s: float, now: float) -> Pruned:
    files = _files(d)
    keep = files[-1:]  # the one PostgreSQL writes
    old = [x for x in files[:-1] if now - x[1] > max_age_s]
    rest = [x for x in files[:-1] if now - x[1] <= max_age_s]
    total = sum(x[2] for x in rest + keep)
    while rest and total > cap_bytes:
        old.append(rest.pop(0))
        total -= old[-1][2]
    for f, _, _ in old:
        f.unlink(missing_ok=True)
    return Pruned(member, len(old), sum(x[2] for x in old), len(rest) + len(keep), total)


def prune(ctx: Context, now: float | None = None) -> list[Pruned]:
    b = disk_bounds(ctx.plan)
    at = time.time() if now is None else now
    return [prune_dir(m.name, ctx.layout.member(m.name).pg_log_dir, b.log_cap_bytes,
                      b.log_max_age_days * 86400, at) for m in ctx.members]


def usage(ctx: Context) -> dict[str, tuple[int, float | None]]:
    """member -> (bytes of server log, age in seconds of its oldest file)."""
    out: dict[str, tuple[int, float | None]] = {}
    now = time.time()
    for m in ctx.members:
        files = _files(ctx.layout.member(m.name).pg_log_dir)
        out[m.name] = (sum(x[2] for x in files), now - files[0][1] if files else None)
    return out


def _prune_job(ctx: Context, _slot: datetime) -> str:
    done = prune(ctx)
    return "; ".join(f"{p.member}: {p.removed} removed ({p.removed_bytes} B), "
                     f"{p.kept_bytes} B kept" for p in done)


def jobs(ctx: Context) -> list[Job]:
    b = disk_bounds(ctx.plan)
    return [Job("logs.prune", f"server logs under {b.log_cap_bytes // 2**20} MB and "
                f"{b.log_max_age_days} days on each member",
                Slot("00:00", ctx.plan.backup.schedule.timezone, every_min=PRUNE_EVERY_MIN),
                _prune_job, S)]
