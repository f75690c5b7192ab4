"""The registry of scheduled jobs. Each feature contributes a provider: plan -> jobs.

To add jobs (e.g. partition creation and retention), write a function
`def jobs(ctx: Context) -> list[Job]` in the feature's module and add it to `providers()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from billdb.context import Context
from billdb.ops.scheduler.calendar import Slot


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    slot: Slot
    run: Callable[[Context, datetime], str]  # (ctx, the slot time it runs for) -> detail
    section: str = ""


Provider = Callable[[Context], list[Job]]


def providers() -> list[Provider]:
    from billdb.ops import partitions
    from billdb.ops.backup import jobs as backup_jobs

    return [backup_jobs.jobs, partitions.jobs]


def all_jobs(ctx: Context) -> list[Job]:
    out: list[Job] = []
    for provider in providers():
        out.extend(provider(ctx))
    names = [j.name for j in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"scheduled job names must be unique: {sorted(dup)}")
    return out
