"""The scheduler loop: sleep until the next slot, run the due jobs one after the other, record
each run in a JSON state file (shown by `billdb backup schedule` and `status`).

Missed slots are not caught up (the machine was down at 02:00: the next run is the next slot);
`verify` reports a backup older than its schedule instead. A failing job is recorded and the
loop goes on. SIGTERM stops the loop between jobs (a running backup finishes first, or is
ended by `billdb down` after its grace time).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from billdb import logsetup
from billdb.context import Context
from billdb.fsutil import write_atomic
from billdb.ops.backup import common
from billdb.ops.scheduler.jobs import Job, all_jobs

log = logging.getLogger(__name__)


def now_utc() -> datetime:
    return datetime.now(UTC)


def read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(state, indent=2, sort_keys=True) + "\n", 0o644)


def next_runs(ctx: Context, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or now_utc()
    return [{"job": j.name, "description": j.description, "schedule": j.slot.describe(),
             "next_run": j.slot.next_after(now).isoformat()} for j in all_jobs(ctx)]


def run_job(ctx: Context, job: Job, slot_time: datetime) -> tuple[bool, str]:
    try:
        return True, job.run(ctx, slot_time)
    except Exception as exc:  # the scheduler must outlive any job failure
        text = str(exc).strip().splitlines()
        return False, f"{type(exc).__name__}: {text[0] if text else ''}"


def run(ctx: Context, state_path: Path | None = None, exit_after: int | None = None) -> int:
    """Run until SIGTERM (or until `exit_after` jobs have run); returns the number of failures."""
    state_path = state_path or common.paths(ctx).scheduler_state
    jobs = all_jobs(ctx)
    stop = {"flag": False}

    def on_term(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    state = read_state(state_path)
    state.update({"pid": os.getpid(), "started_at": now_utc().isoformat(),
                  "plan": str(ctx.plan_path)})
    records = state.setdefault("jobs", {})
    due_at = {j.name: j.slot.next_after(now_utc()) for j in jobs}
    for j in jobs:
        records.setdefault(j.name, {})["next_run"] = due_at[j.name].isoformat()
    _write_state(state_path, state)
    logsetup.configure()
    log.info(f"scheduler started with {len(jobs)} jobs: "
         + "; ".join(f"{j.name} next {due_at[j.name].isoformat()}" for j in jobs))
    ran = failures = 0
    while not stop["flag"]:
        for job in jobs:
            slot_time = due_at[job.name]
            if stop["flag"] or slot_time > now_utc():
                continue
            rec = records.setdefault(job.name, {})
            rec.update({"last_slot": slot_time.isoformat(), "last_start": now_utc().isoformat(),
                        "running": True})
            _write_state(state_path, state)
            log.info(f"{job.name}: started (slot {slot_time.isoformat()})")
            t0 = time.monotonic()
            ok, detail = run_job(ctx, job, slot_time)
            due_at[job.name] = job.slot.next_after(now_utc())
            rec.update({"last_end": now_utc().isoformat(), "last_ok": ok,
                        "last_detail": detail, "running": False,
                        "last_duration_s": round(time.monotonic() - t0, 2),
                        "runs": rec.get("runs", 0) + 1,
                        "next_run": due_at[job.name].isoformat()})
            _write_state(state_path, state)
            (log.info if ok else log.warning)(f"{job.name}: {'ok' if ok else 'FAILED'}: {detail}")
            ran += 1
            failures += 0 if ok else 1
            if exit_after and ran >= exit_after:
                return failures
        wait = min(due_at.values()) - now_utc()
        time.sleep(max(0.05, min(1.0, wait.total_seconds())))
    log.info("scheduler stopped")
    return failures
