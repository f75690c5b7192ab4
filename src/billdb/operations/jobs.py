"""The scheduler's checklist jobs (listed in the composition root, billdb.cli.satellites):
daily at a plan time, weekly on a plan weekday, monthly on a plan day of the month.

A job runs the checklist in the scheduler's process, as `billdb checklist KIND` does, and
stores it the same way. The scheduler runs its jobs one after another, so a long weekly run
delays the next job's start either way.
"""

from __future__ import annotations

from datetime import datetime

from billdb.context import Context
from billdb.operations import checklist
from billdb.ops.scheduler.calendar import Slot, zone
from billdb.ops.scheduler.job import Job

S = "§14.1 checklists"


def _runner(kind: str):
    def run(ctx: Context, slot_time: datetime) -> str:
        if kind == "monthly":
            day = ctx.plan.operations.schedule.monthly_day
            local = slot_time.astimezone(zone(ctx.plan.database.timezone))
            if local.day != day:
                return f"not day {day} of the month: nothing to run"
        r = checklist.run(ctx, kind)  # in this process: the scheduler's own context
        failed = [i["id"] for i in r["items"] if i["status"] == "fail"]
        if failed:
            raise RuntimeError(f"checklist {kind}: failed {', '.join(failed)} "
                               f"(stored in {r['stored']})")
        return f"checklist {kind}: {r['summary']} (stored in {r['stored']})"
    return run


def jobs(ctx: Context) -> list[Job]:
    sch = ctx.plan.operations.schedule
    tz = ctx.plan.database.timezone
    return [
        Job("checklist.daily", "the §14.1 daily checklist", Slot(sch.daily_at, tz),
            _runner("daily"), S),
        Job("checklist.weekly", "the §14.1 weekly checklist (switchover there and back, "
            "restore drill)", Slot(sch.weekly_at, tz, sch.weekly_on), _runner("weekly"), S),
        Job("checklist.monthly", f"the §14.1 monthly checklist (day {sch.monthly_day})",
            Slot(sch.monthly_at, tz, monthday=sch.monthly_day), _runner("monthly"), S),
    ]
