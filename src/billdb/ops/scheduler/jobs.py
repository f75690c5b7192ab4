"""The one list of scheduled jobs. Each feature contributes a provider (plan -> jobs) defined
in its own module, and PROVIDERS below names them all.

To add jobs, write `def jobs(ctx: Context) -> list[Job]` in the feature's module (Job comes
from billdb.ops.scheduler.job) and add it to PROVIDERS.
"""

from __future__ import annotations

from billdb.context import Context
from billdb.operations import jobs as checklist_jobs
from billdb.ops import logs as log_jobs
from billdb.ops import partitions
from billdb.ops import tls as tls_jobs
from billdb.ops.backup import jobs as backup_jobs
from billdb.ops.scheduler.job import Job, Provider

__all__ = ["PROVIDERS", "Job", "Provider", "all_jobs", "providers"]

PROVIDERS: tuple[Provider, ...] = (backup_jobs.jobs, partitions.jobs,
                                   checklist_jobs.jobs,  # issue 12: §14.1 checklists
                                   tls_jobs.jobs,  # issue 22: certificate renewal
                                   log_jobs.jobs)  # issue 22: server logs capped


def providers() -> list[Provider]:
    return list(PROVIDERS)


def all_jobs(ctx: Context) -> list[Job]:
    out: list[Job] = []
    for provider in PROVIDERS:
        out.extend(provider(ctx))
    names = [j.name for j in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"scheduled job names must be unique: {sorted(dup)}")
    return out
