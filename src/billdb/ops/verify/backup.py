"""Backup health (§9.1): pgBackRest check, WAL archiving, backups as young as their schedule
in both repositories, encryption, the config on disk as the plan renders it, the scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from billdb import times
from billdb.context import Context
from billdb.converge import pgbackrest as backup_resource
from billdb.errors import BilldbError
from billdb.ops.backup import common, dumps, health, physical
from billdb.ops.scheduler.calendar import Slot
from billdb.ops.verify.check import Check

S = "§9.1 backup"
GRACE = timedelta(hours=1)  # a scheduled job's own run time, and a little slack


def _age(ts: int | None, now: datetime) -> timedelta | None:
    return now - datetime.fromtimestamp(ts, UTC) if ts else None


def checks(ctx: Context) -> Iterator[Check]:
    plan = ctx.plan
    now = datetime.now(UTC)
    eng = common.engine(ctx)
    want = backup_resource.desired(plan, ctx.layout, common.repo_secrets(ctx))
    stanza = eng.stanza_info()
    found = backup_resource.observe(common.paths(ctx).config, stanza)
    yield backup_resource.config_check(want, found)
    try:
        eng.check()
        yield Check("backup.check", S, "pgbackrest check passes", "passes", True)
    except BilldbError as exc:
        yield Check("backup.check", S, "pgbackrest check passes", str(exc), False)
    arch = health.archiver(ctx)
    yield Check("backup.archiving", S, "WAL archived, no failure since the last success",
                f"{arch.archived_count} archived, last {arch.last_archived_wal}, "
                f"{arch.failed_count} failed (last failure: {_when(arch.last_failed_time)})",
                bool(arch.archived_count) and arch.healthy)
    sched = plan.backup.schedule
    daily = Slot(sched.daily_at, sched.timezone)
    weekly = Slot(sched.daily_at, sched.timezone, sched.full_on)
    yield from backup_resource.repo_checks(want, found)
    every = physical.backups(stanza)
    for repo in common.REPOS:
        mine = [b for b in every if b["repo"] == repo and not b["error"]]
        fulls = [b for b in mine if b["type"] == "full"]
        for label, items, slot in (("full", fulls, weekly), ("newest", mine, daily)):
            age = _age(items[-1]["start_epoch"], now) if items else None
            limit = slot.period + GRACE
            yield Check(f"backup.repo{repo}.{label}_age", S, f"younger than {limit}",
                        f"{items[-1]['label']} taken {str(age).split('.')[0]} ago" if items
                        else "no backup", age is not None and age <= limit)
    gaps = physical.archive_gaps(ctx, stanza)
    yield Check("backup.archive_continuous", S, "no WAL dropped since each repo's newest full",
                "; ".join(f"repo{r}: {why}" for r, why in gaps.items()) or "none dropped",
                not gaps)
    yield from _logical(ctx, every, now)
    sch = health.scheduler_state(ctx)
    yield Check("backup.scheduler", S, "scheduler running", f"{sch['state']} (pid {sch['pid']})",
                sch["state"] == "running")


def _logical(ctx: Context, every: list[dict], now: datetime) -> Iterator[Check]:
    """The weekly dump is due once the environment is older than one period."""
    lg = ctx.plan.backup.logical
    slot = Slot(lg.at, ctx.plan.backup.schedule.timezone, lg.weekday)
    limit = slot.period + GRACE
    listed = dumps.listing(ctx)["dumps"]
    present = [d for d in listed if d["present"]]
    first = _age(every[0]["start_epoch"], now) if every else None
    if present:
        age = now - datetime.fromisoformat(present[-1]["created_at"])
        yield Check("backup.logical_age", S, f"newest dump younger than {limit}",
                    f"{str(age).split('.')[0]} old", age <= limit)
    else:
        due = first is not None and first > limit
        yield Check("backup.logical_age", S, f"newest dump younger than {limit}",
                    "no dump yet" + ("" if due else " (none due yet)"), not due)


def _when(t: object) -> str:
    """A time in a sentence: ISO 8601 in UTC, or never."""
    return times.for_json(t) if isinstance(t, datetime) else "never"
