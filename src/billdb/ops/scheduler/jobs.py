"""The one list of scheduled jobs. Each feature contributes a provider (plan -> jobs) defined
in its own module; PROVIDERS below names ops' own, and a satellite above ops (the
checklists) lists its provider in billdb.cli.satellites instead.

To add jobs, write `def jobs(ctx: Context) -> list[Job]` in the feature's module (Job comes
from billdb.ops.scheduler.job) and add it to PROVIDERS (or JOBS there).
"""

from __future__ import annotations

import hashlib

from billdb.context import Context
from billdb.ops import logs as log_jobs
from billdb.ops import partitions, registry
from billdb.ops import tls as tls_jobs
from billdb.ops.backup import jobs as backup_jobs
from billdb.ops.scheduler.job import Job, Provider

__all__ = ["PROVIDERS", "Job", "Provider", "all_jobs", "digest", "providers"]

PROVIDERS: tuple[Provider, ...] = (backup_jobs.jobs, partitions.jobs,
                                   tls_jobs.jobs,  # issue 22: certificate renewal
                                   log_jobs.jobs)  # issue 22: server logs capped


def providers() -> list[Provider]:
    """ops' own providers, then the satellites' (billdb.cli.satellites)."""
    return [*PROVIDERS, *registry.get().jobs]


def all_jobs(ctx: Context) -> list[Job]:
    out: list[Job] = []
    for provider in providers():
        out.extend(provider(ctx))
    names = [j.name for j in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"scheduled job names must be unique: {sorted(dup)}")
    return out


def digest(ctx: Context) -> str:
    """A short fingerprint of the schedule (every job's name and slot). The running scheduler
    loaded its jobs when it started: the fingerprint goes into its supervised program, so a
    billdb that brings new jobs (or a plan that moves one) has the program restarted by `up`
    (supervisord's update restarts a program whose configuration changed)."""
    text = "\n".join(sorted(f"{j.name} {j.slot!r}" for j in all_jobs(ctx)))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
