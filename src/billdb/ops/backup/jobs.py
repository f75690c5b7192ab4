"""Backup jobs of the scheduler, from the plan's §9.1 schedule.

- backup.daily: at backup.schedule.daily_at; full on backup.schedule.full_on, differential on
  the other days (a diff needs only the last full to restore, so a restore reads at most two
  backups; incrementals would chain up to seven).
- backup.expire: right after it; pgBackRest expiry by time (retention_days) in both repos,
  and logical dumps older than backup.logical.retention_days.
- backup.logical: the weekly pg_dump at backup.logical.weekday / at.
"""

from __future__ import annotations

from datetime import datetime

from billdb.context import Context
from billdb.ops.backup import common, dumps, physical
from billdb.ops.scheduler.calendar import WEEKDAYS, Slot, zone
from billdb.ops.scheduler.job import Job

S = "§9.1 backup"


def daily_kind(ctx: Context, when: datetime) -> str:
    """full on the plan's weekday (in the plan's zone), diff otherwise."""
    sched = ctx.plan.backup.schedule
    local = when.astimezone(zone(sched.timezone))
    return "full" if WEEKDAYS[local.weekday()] == sched.full_on else "diff"


def _daily(ctx: Context, when: datetime) -> str:
    kind = daily_kind(ctx, when)
    res = physical.take_backup(ctx, kind)
    labels = ", ".join(f"repo{r['repo']} {(r['backup'] or {}).get('label')}" for r in res["repos"])
    return f"{kind} backup in {res['duration_s']} s: {labels}"


def _expire(ctx: Context, when: datetime) -> str:
    eng = common.engine(ctx)
    for repo in common.REPOS:
        eng.expire(repo)
    removed = dumps.prune(ctx)
    return f"expired by time in repo1+repo2; removed {len(removed)} old dumps"


def _logical(ctx: Context, when: datetime) -> str:
    res = dumps.dump(ctx)
    return f"dump {res['file']} ({res['size_bytes']} bytes) in {res['duration_s']} s"


def jobs(ctx: Context) -> list[Job]:
    b = ctx.plan.backup
    sched, logical = b.schedule, b.logical
    return [
        Job("backup.daily", f"physical backup, full on {sched.full_on}s, diff otherwise",
            Slot(sched.daily_at, sched.timezone), _daily, S),
        Job("backup.expire", f"expire backups older than {b.retention_days} days, dumps "
            f"older than {logical.retention_days} days", Slot(sched.daily_at, sched.timezone),
            _expire, S),
        Job("backup.logical", "logical backup (pg_dump -Fc as the backup user)",
            Slot(logical.at, sched.timezone, logical.weekday), _logical, S),
    ]
