"""Audit controls for what issue 22 measured: the WAL bound (PostgreSQL's and pgBackRest's)
as the plan derives it, server logs capped, the consensus store's quorum and Patroni's
failsafe mode. Each control is a pure function of what was read, so a test can weaken one
input and see the control fail (tests/test_bounds_units.py, tests/test_archive_outage.py)."""

from __future__ import annotations

from typing import Any

from billdb.context import Context
from billdb.converge import pgbackrest as pgbackrest_conf
from billdb.operations.results import control
from billdb.ops import logs
from billdb.ops.backup import common
from billdb.ops.verify import dcs as verify_dcs
from billdb.plan.models import Plan
from billdb.render import bounds
from billdb.render.parameters import conf_text
from billdb.render.patroni import LOG_FILENAME

DISK = "issue 22 bounded disk"
DCS = "issue 22 consensus store"
NAMES = ["max_slot_wal_keep_size", "log_rotation_age", "log_rotation_size", "log_filename"]


def _push_async(conf: str) -> tuple[str | None, bool, bool]:
    """(archive-push-queue-max, asynchronous push, synchronous get) as pgBackRest reads the
    file: a command section such as [global:archive-push] over [global]."""
    options = {(o.section, o.key): o.text for o in pgbackrest_conf.parse(conf)}

    def value(command: str, key: str) -> str | None:
        for section in (f"global:{command}", "global"):
            if (section, key) in options:
                return options[(section, key)]
        return None

    return (value("archive-push", "archive-push-queue-max"),
            value("archive-push", "archive-async") == "y",
            value("archive-get", "archive-async") in (None, "n"))


def wal_controls(plan: Plan, settings: dict[str, str], conf: str, where: str
                 ) -> list[dict[str, Any]]:
    """settings: pg_settings values (max_slot_wal_keep_size in MB); conf: pgbackrest.conf."""
    b = bounds.disk_bounds(plan)
    have = settings.get("max_slot_wal_keep_size")
    queue, push_async, get_sync = _push_async(conf)
    return [
        control("wal.bound", "the WAL bound holds the RPO's floor", DISK, b.ok, b.reasoning()),
        control("wal.max_slot_wal_keep_size", "max_slot_wal_keep_size as the plan derives it "
                "(a lost replica cannot fill the disk)", DISK,
                have == str(b.wal_keep_mb),
                f"max_slot_wal_keep_size = {have!r} MB on {where} (required: {b.wal_keep_mb})"),
        control("wal.archive_push_queue_max", "pgBackRest archive-push-queue-max as the plan "
                "derives it, asynchronous push (a lost repository cannot fill the disk)", DISK,
                queue == f"{b.wal_keep_mb}MB" and push_async,
                f"archive-push-queue-max = {queue or 'absent'}, archive-push's archive-async "
                f"{'y' if push_async else 'absent'} in pgbackrest.conf "
                f"(required: {b.wal_keep_mb}MB, y)"),
        control("wal.archive_get_sync", "archive-get synchronous (an asynchronous get "
                "prefetches into a queue a standby can wait on for archive-timeout)", DISK,
                get_sync, f"archive-get's archive-async {'n' if get_sync else 'y'} in "
                "pgbackrest.conf (required: n, asynchronous for archive-push only)"),
    ]


def log_controls(plan: Plan, settings: dict[str, str], usage: dict[str, tuple[int, float | None]],
                 pruning: bool) -> list[dict[str, Any]]:
    """usage: member -> (bytes of server log, age of its oldest file in s)."""
    b = bounds.disk_bounds(plan)
    size = f"{b.log_file_bytes // bounds.MB}MB"
    rotation = (settings.get("log_rotation_age") == "60"
                and settings.get("log_rotation_size") == str(b.log_file_bytes // 1024)
                and settings.get("log_filename") == LOG_FILENAME)
    over = {m: (n, age) for m, (n, age) in usage.items()
            if n > b.log_cap_bytes + b.log_file_bytes
            or (age or 0) > b.log_max_age_days * 86400 + logs.PRUNE_EVERY_MIN * 60}
    shown = ", ".join(f"{m} {n // bounds.MB} MB, oldest {round((age or 0) / 86400, 1)} d"
                      for m, (n, age) in usage.items())
    return [
        control("log.rotation", "server logs rotated hourly and at a share of the cap, one "
                "name per file", DISK, rotation,
                f"log_rotation_age = {settings.get('log_rotation_age')!r} min, "
                f"log_rotation_size = {settings.get('log_rotation_size')!r} kB, log_filename = "
                f"{settings.get('log_filename')!r} (required: 60, {size}, {LOG_FILENAME})"),
        control("log.cap", f"server logs under {b.log_cap_bytes // bounds.MB} MB and "
                f"{b.log_max_age_days} days on each member, pruned by the scheduler", DISK,
                pruning and not over,
                f"{shown}; logs.prune {'scheduled' if pruning else 'not scheduled'}"),
    ]


def dcs_controls(ctx: Context) -> list[dict[str, Any]]:
    """verify's consensus-store checks, so the two never disagree."""
    titles = {"dcs.members_healthy": "every etcd member healthy (a quorum survives one loss)",
              "dcs.cluster_members": "etcd's member list is the plan's",
              "dcs.failsafe_mode": "Patroni failsafe_mode on (writes go on without etcd)"}
    return [control(c.id, titles.get(c.id, conf_text(c.expected)), DCS, c.ok,
                    f"{conf_text(c.actual)} (required: {conf_text(c.expected)})")
            for c in verify_dcs.checks(ctx)]


def controls(ctx: Context, settings: dict[str, str], where: str) -> list[dict[str, Any]]:
    from billdb.ops.scheduler.jobs import all_jobs

    path = common.paths(ctx).config
    conf = path.read_text(encoding="utf-8") if path.exists() else ""
    pruning = any(j.name == "logs.prune" for j in all_jobs(ctx))
    return (wal_controls(ctx.plan, settings, conf, where)
            + log_controls(ctx.plan, settings, logs.usage(ctx), pruning)
            + dcs_controls(ctx))
