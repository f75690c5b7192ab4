"""`billdb drill archive-outage --minutes N`: the geo repository (repo2, Azurite) goes away
for N minutes while a writer commits through the application route (issue 22).

Goals: the primary keeps committing and loses nothing; `pg_wal` stays under its bound
(`max_wal_size` + the WAL bound of render/bounds.py); the archive alert naming repo2
(`WalArchiveBehind{repo="repo2"}`) fires within the RPO of the outage's start; when the
repository returns, archiving catches up (repo2 lacks no completed WAL segment) and
`backup verify` is clean. Measured: rows lost, the WAL peak against the bound, the alert's
seconds to fire, the catch-up seconds.

Journaled: a drill killed during the outage is reverted by running it again (Azurite is
started, the killed run's rows deleted); its measurement is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from billdb.context import Context
from billdb.engines import azurite, process
from billdb.ops import journal
from billdb.ops.backup import archive_state, common, health, physical
from billdb.ops.drills import writer
from billdb.plan.types import size_bytes
from billdb.render import bounds
from billdb.state import cluster, metrics

Progress = Callable[[str], None]
ALERT = "WalArchiveBehind"
REPO = 2
SAMPLE_S = 2.0
CATCH_UP_LIMIT_S = 600


@dataclass
class OutageWatch:
    """What the drill sees while repo2 is away."""

    t0: float
    wal_base_bytes: int
    wal_peak_bytes: int = 0
    alert_s: float | None = None

    def sample(self, ctx: Context) -> None:
        self.wal_peak_bytes = max(self.wal_peak_bytes, pg_wal_bytes(ctx))
        if self.alert_s is None and alert_firing(ctx):
            self.alert_s = round(time.monotonic() - self.t0, 1)


def geo_repo(ctx: Context) -> process.Service:
    return azurite.service(ctx.local, ctx.layout, common.azure_key(ctx))


def pg_wal_dir(ctx: Context) -> Path:
    return ctx.layout.member(cluster.leader_name(ctx)).data / "pg_wal"


def pg_wal_bytes(ctx: Context) -> int:
    """The primary's pg_wal as the disk sees it (segments and history files)."""
    total = 0
    for f in pg_wal_dir(ctx).iterdir():
        try:
            if f.is_file():
                total += f.stat().st_size
        except OSError:  # recycled meanwhile
            continue
    return total


def alert_firing(ctx: Context) -> bool:
    got = metrics.query(ctx, f'ALERTS{{alertname="{ALERT}",repo="repo{REPO}",'
                        'alertstate="firing"}')
    return bool(got)


def wal_bound_bytes(ctx: Context) -> int:
    return size_bytes(ctx.plan.parameters.max_wal_size) + \
        bounds.disk_bounds(ctx.plan).wal_keep_bytes


def restore_geo(ctx: Context) -> str:
    """The revert: the geo repository running again."""
    pid, _ = process.start(geo_repo(ctx))
    azurite.wait_listening(ctx.local.backup.azurite_port)
    return f"azurite (repo{REPO}) running, pid {pid}"


def repo_lag_s(ctx: Context) -> float:
    """The age of the oldest completed WAL segment repo2 lacks, from pgBackRest's info."""
    ra = archive_state.repo_archive(ctx, REPO)
    current = health.archiver(ctx).current_wal
    return archive_state.oldest_missing_age(pg_wal_dir(ctx), ra.max_wal or "0" * 24,
                                            current, time.time())


async def _outage(ctx: Context, minutes: float, progress: Progress) -> OutageWatch:
    watch = OutageWatch(time.monotonic(), pg_wal_bytes(ctx))
    process.stop(geo_repo(ctx))
    journal.checkpoint("outage:repo2 stopped")
    progress(f"repo{REPO} (Azurite) stopped for {minutes:g} min; writing")
    end, next_note = watch.t0 + minutes * 60, watch.t0 + 60
    while time.monotonic() < end:
        await asyncio.to_thread(watch.sample, ctx)
        if time.monotonic() >= next_note:
            next_note += 60
            fired = f"fired at {watch.alert_s} s" if watch.alert_s else "not yet"
            progress(f"  {round(time.monotonic() - watch.t0)} s: pg_wal "
                     f"{watch.wal_peak_bytes // bounds.MB} MB at most, alert {fired}")
        await asyncio.sleep(SAMPLE_S)
    return watch


async def _catch_up(ctx: Context, progress: Progress) -> float | None:
    t1 = time.monotonic()
    await asyncio.to_thread(restore_geo, ctx)
    progress(f"repo{REPO} back; waiting for archiving to catch up")
    while time.monotonic() - t1 < CATCH_UP_LIMIT_S:
        if await asyncio.to_thread(repo_lag_s, ctx) == 0.0:
            return round(time.monotonic() - t1, 1)
        await asyncio.sleep(SAMPLE_S)
    return None


async def _measure(ctx: Context, minutes: float, progress: Progress) -> dict[str, Any]:
    w = await writer.Writer.started(ctx.plan_path, "archive-outage")
    journal.checkpoint("outage:writing")
    try:
        watch = await _outage(ctx, minutes, progress)
        catch_up = await _catch_up(ctx, progress)
    finally:
        await w.stop()
    missing = await w.audit()
    t = bounds.archive_alert_timing(ctx.plan)
    return {"minutes": minutes, "acked_commits": len(w.log.acked),
            "lost_commits": len(missing), "failed_commits": len(w.log.failed),
            "stuck": w.log.stuck, "wal_base_bytes": watch.wal_base_bytes,
            "wal_peak_bytes": watch.wal_peak_bytes, "wal_bound_bytes": wal_bound_bytes(ctx),
            "archive_push_queue_max_bytes": bounds.disk_bounds(ctx.plan).wal_keep_bytes,
            "alert": {"name": ALERT, "repo": f"repo{REPO}", "fired_after_s": watch.alert_s,
                      "goal_s": t.rpo_s, "timing": asdict(t) | {"worst_s": t.worst_s}},
            "catch_up_s": catch_up}


def _verdict(report: dict[str, Any]) -> bool:
    fired = report.get("alert", {}).get("fired_after_s")
    return bool(report.get("lost_commits") == 0 and not report.get("stuck")
                and report.get("wal_peak_bytes", 1) <= report.get("wal_bound_bytes", 0)
                and fired is not None and fired <= report["alert"]["goal_s"]
                and report.get("catch_up_s") is not None and report.get("backup_verify_ok"))


def run(ctx: Context, minutes: float, progress: Progress = lambda _m: None) -> dict[str, Any]:
    def outage(j: journal.Journal) -> str:
        j.record(report=asyncio.run(_measure(ctx, minutes, progress)))
        return f"repo{REPO} away {minutes:g} min, measured"

    def revert(_j: journal.Journal) -> str:
        gone = writer.discard_interrupted(ctx, "archive-outage")
        return f"{restore_geo(ctx)}; {gone} rows of the killed run deleted"

    j, record = journal.run(
        journal.directory(ctx.layout.state_dir), "drill archive-outage", {"minutes": minutes},
        [journal.Step("outage", outage, revert=revert)],
        command=f"billdb drill archive-outage --minutes {minutes:g}", progress=progress)
    report = dict(j.data.get("report") or {"minutes": minutes, "measured": False})
    progress("backup verify (both repositories)")
    verify = physical.verify(ctx)
    report["backup_verify_ok"] = verify["ok"]
    report["backup_verify"] = verify["repos"]
    report["ok"] = _verdict(report)
    return report | {"journal": record}
