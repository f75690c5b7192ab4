"""Point-in-time restore into a NEW instance beside the running cluster (§9.2 data corruption:
restore beside, verify, switch).

pgBackRest restores the newest backup before the target into restores/NAME/data with
recovery_target_time; the copy gets its own port, log directory, hba file and its own
lock/log paths (carried into its restore_command), and archive_mode off so it never
pushes WAL into the cluster's repositories. It runs as a supervised service of the environment
(so `down` stops it and `status` shows it) until `restore drop` or `restore promote`.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from billdb import sql as sqlfiles
from billdb import times
from billdb.backup_layout import RestorePaths
from billdb.context import Context
from billdb.engines import postgres, process
from billdb.errors import ArgumentError, BilldbError
from billdb.fsutil import append_line, write_atomic
from billdb.internal import SUPERUSER
from billdb.ops.backup import common, services
from billdb.retry import PollTimeout, poll, wait_until
from billdb.state import archiver as archiver_state
from billdb.state import cluster

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
COPY_BLOCK = "# billdb: settings of a copy restored beside the cluster"
Progress = Callable[[str], None]


class TargetNotReached(BilldbError):
    """Recovery ran out of archived WAL before a commit later than the target."""


def parse_time(ctx: Context, text: str) -> datetime:
    """ISO 8601; without an offset the time is in the plan's database time zone."""
    return times.parse(text, ctx.plan.database.timezone, "--time")


def refuse_before_first_backup(ctx: Context, target: datetime, name: str,
                               repo: int | None) -> None:
    """A target older than the end of the first backup cannot be restored: say the earliest
    time that can, with the command (rather than pgBackRest's raw error [075])."""
    from billdb.ops.backup import physical

    stops = [(times.coerce(b["stop"]), b["label"]) for b in physical.listing(ctx)["backups"]
             if repo is None or b["repo"] == repo]
    stops = [(t, label) for t, label in stops if t is not None]
    if not stops:
        raise BilldbError("no backup to restore from yet: take one with `billdb backup`")
    earliest, label = min(stops)
    if target < earliest:
        zone = ctx.plan.database.timezone
        first = times.for_people(earliest, zone)
        raise BilldbError(f"--time {times.for_people(target, zone)} is before the earliest "
                          f"restorable time {first} (the end of backup {label}): "
                          f"billdb restore --time {first} --as {name}")


def pgbackrest_time(t: datetime) -> str:
    """pgBackRest's form: 'YYYY-MM-DD HH:MM:SS.ffffff+00' (it selects the backup set by it)."""
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _meta(paths: RestorePaths) -> dict[str, Any]:
    try:
        return json.loads(paths.meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_meta(paths: RestorePaths, meta: dict[str, Any]) -> None:
    write_atomic(paths.meta, json.dumps(meta, indent=2) + "\n", 0o644)


def _pick_port(ctx: Context) -> int:
    first, last = ctx.local.backup.restore_ports
    used = {_meta(common.paths(ctx).restore(n)).get("port")
            for n in (p.name for p in common.paths(ctx).restores_dir.glob("*"))}
    for port in range(first, last + 1):
        if port not in used and _port_free(port):
            return port
    raise BilldbError(f"no free port in environments.local.backup.restore_ports "
                      f"[{first}, {last}]: drop a restored copy (`billdb restore drop NAME`)")


def copy_uri(ctx: Context, port: int, dbname: str | None = None) -> str:
    return postgres.uri(ctx.layout, user=SUPERUSER, dbname=dbname or ctx.plan.database.name,
                        ports=[port])


def wal_horizon(ctx: Context, target: datetime, progress: Progress,
                force: bool = False) -> dict[str, Any]:
    """Make sure the archive holds a commit later than the target.

    Recovery stops at the first commit after the target; without one in the archive it ends
    with "recovery ended before configured recovery target was reached". When the target is
    not older than the last archived segment, commit a tiny transaction on the primary (its
    commit record is later than the target), switch WAL and wait until that segment is
    archived.
    """
    now = datetime.now(UTC)
    if target > now:
        raise BilldbError(f"--time {target.isoformat()} is in the future (now {now.isoformat()})")
    with cluster.admin_connect(ctx) as conn:
        last_archived_time = archiver_state.read(conn).last_archived_time
        if not force and last_archived_time is not None and last_archived_time > target \
                and (now - target).total_seconds() > 2 * ctx.plan.backup.archive_timeout_s:
            return {"wal_switched": False}
        progress("target is at the edge of the archived WAL: switching WAL on the primary")
        conn.execute("SELECT txid_current()")  # a commit record later than the target
        segment = conn.execute(sqlfiles.load("backup/switch_wal")).fetchone()[0]
        t0 = time.monotonic()

        if wait_until(lambda: archiver_state.read(conn).archived_through(segment), 120, 0.1):
            return {"wal_switched": True, "segment": segment,
                    "archive_wait_s": round(time.monotonic() - t0, 2)}
    raise BilldbError(f"WAL segment {segment} was not archived within 120 s: see "
                      f"{common.paths(ctx).log_dir} (the archive cannot reach the target time)")


def _copy_settings(ctx: Context, name: str, port: int, paths: RestorePaths) -> str:
    """Appended to the copy's postgresql.auto.conf (later lines win over Patroni's file)."""
    lines = [
        COPY_BLOCK,
        f"port = {port}",
        f"cluster_name = 'restore-{name}'",
        f"log_directory = '{paths.pg_log}'",
        f"hba_file = '{paths.data / 'pg_hba.conf'}'",
        f"ident_file = '{paths.data / 'pg_ident.conf'}'",
        "synchronous_standby_names = ''",
        "archive_mode = 'off'",
        # off: PostgreSQL checks the primary's max_connections (and the other at-least-the-
        # primary's settings) in the WAL only for a hot standby; a target past a raise of
        # max_connections would otherwise pause recovery for good ("insufficient parameter
        # settings"). The copy takes connections once promoted.
        "hot_standby = 'off'",
    ]
    return "\n".join(lines) + "\n"


def _wait_promoted(ctx: Context, svc: process.Service, port: int, paths: RestorePaths,
                   timeout: float) -> datetime | None:
    """Poll until recovery ended (the copy was promoted); its last replayed commit time."""
    uri = copy_uri(ctx, port, "postgres")

    def look() -> tuple[bool, datetime | None]:
        """(in recovery, last replayed commit time); a copy not answering yet is recovering."""
        if not process.running_pid(svc):
            why = _last_error(paths)
            if "before configured recovery target was reached" in why:
                raise TargetNotReached(why)
            raise BilldbError(f"the restored copy stopped during recovery: {why}")
        try:
            with postgres.connect(uri, what="restored copy") as conn:
                return conn.execute(
                    "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp()").fetchone()
        except BilldbError:
            return True, None

    try:
        return poll(look, timeout, 0.2, until=lambda seen: not seen[0])[1]
    except PollTimeout:
        raise BilldbError(f"the restored copy is still recovering after {timeout:.0f} s") \
            from None


def _last_error(paths: RestorePaths) -> str:
    lines: list[str] = []
    for f in [paths.startup_log, *sorted(paths.pg_log.glob("*.log"))]:
        try:
            lines += [ln for ln in f.read_text(errors="replace").splitlines()
                      if "FATAL" in ln or "PANIC" in ln]
        except OSError:
            continue
    return lines[-1].strip() if lines else f"see {paths.root}"


def _check_arguments(ctx: Context, name: str, repo: int | None) -> None:
    if not _NAME.match(name):
        raise ArgumentError(f"--as {name!r}: a name is lower-case letters, digits, - and _ "
                            "(at most 31), starting with a letter")
    if repo is not None and repo not in common.REPOS:
        raise ArgumentError(f"--repo must be one of {common.REPOS}")
    if common.paths(ctx).restore(name).root.exists():
        raise BilldbError(f"a restored copy named {name} exists: `billdb restore drop {name}` "
                          "first, or choose another name")


def _make_directories(paths: RestorePaths, user: str) -> None:
    paths.root.mkdir(parents=True, mode=0o700)
    for d in (paths.data, paths.pg_log, paths.lock, paths.log):
        d.mkdir(mode=0o700)
    for d in (paths.root, paths.data, paths.pg_log, paths.lock, paths.log):
        process.chown_tree(d, user)


def _restore_files(ctx: Context, paths: RestorePaths, target: datetime,
                   repo: int | None) -> float:
    """pgbackrest restore into the copy's data directory; the seconds it took."""
    t0 = time.monotonic()
    opts = [f"--pg1-path={paths.data}", "--type=time", f"--target={pgbackrest_time(target)}",
            "--target-action=promote", "--archive-mode=off", f"--lock-path={paths.lock}",
            f"--log-path={paths.log}", *([f"--repo={repo}"] if repo else [])]
    common.engine(ctx).restore(*opts)
    return time.monotonic() - t0


def _recover(ctx: Context, name: str, port: int, paths: RestorePaths, target: datetime,
             horizon: dict[str, Any], progress: Progress
             ) -> tuple[datetime | None, dict[str, Any]]:
    """Start the copy and wait for its promotion: (last replayed commit, WAL horizon)."""
    append_line(paths.data / "postgresql.auto.conf", _copy_settings(ctx, name, port, paths))
    svc = services.restored_copy(ctx, name)
    process.start(svc)
    progress(f"recovering on port {port} …")
    try:
        return _wait_promoted(ctx, svc, port, paths, ctx.plan.dr.rto_min * 60), horizon
    except TargetNotReached:
        # No commit after the target in the archive (a quiet database): archive one and let
        # recovery continue from where it stopped.
        horizon = wal_horizon(ctx, target, progress, force=True)
        process.start(svc)
        return _wait_promoted(ctx, svc, port, paths, ctx.plan.dr.rto_min * 60), horizon


def restore(ctx: Context, time_text: str, name: str, repo: int | None = None,
            progress: Progress = lambda m: None) -> dict[str, Any]:
    _check_arguments(ctx, name, repo)
    target = parse_time(ctx, time_text)
    refuse_before_first_backup(ctx, target, name, repo)
    paths = common.paths(ctx).restore(name)
    t0 = time.monotonic()
    horizon = wal_horizon(ctx, target, progress)
    port = _pick_port(ctx)
    _make_directories(paths, ctx.local.os_user)
    meta = {"name": name, "port": port, "target_time": target.isoformat(), "repo": repo,
            "state": "restoring", "created_at": datetime.now(UTC).isoformat()}
    _write_meta(paths, meta)
    try:
        progress(f"pgbackrest restore to {target.isoformat()} into {paths.data} …")
        files_s = _restore_files(ctx, paths, target, repo)
        recovered, horizon = _recover(ctx, name, port, paths, target, horizon, progress)
    except BaseException:
        drop(ctx, name)
        raise
    restore_s = round(time.monotonic() - t0, 2)
    meta.update({"state": "ready", "recovered_to": recovered.isoformat() if recovered else None,
                 "restore_s": restore_s})
    _write_meta(paths, meta)
    return {
        "name": name, "port": port, "dsn": copy_uri(ctx, port),
        "target_time": target.isoformat(),
        "recovered_to": recovered.isoformat() if recovered else None,
        "offset_s": round((recovered - target).total_seconds(), 3) if recovered else None,
        "restore_s": restore_s, "files_s": round(files_s, 2), **horizon,
        "data_dir": str(paths.data),
    } | ({} if recovered else {"note": "no transaction committed between the backup and the "
                                       "target: the copy is the backup as it ended"})


def listing(ctx: Context) -> dict[str, Any]:
    copies = []
    root = common.paths(ctx).restores_dir
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        meta = _meta(common.paths(ctx).restore(d.name))
        if not meta:
            continue
        pid = process.running_pid(services.restored_copy(ctx, d.name))
        copies.append(meta | {"pid": pid, "running": bool(pid),
                              "dsn": copy_uri(ctx, meta["port"])})
    return {"copies": copies}


def drop(ctx: Context, name: str) -> dict[str, Any]:
    paths = common.paths(ctx).restore(name)
    if not _NAME.match(name) or not paths.root.exists():
        raise BilldbError(f"no restored copy named {name!r} (see `billdb restore list`)")
    stopped = process.stop(services.restored_copy(ctx, name), timeout=30)
    _stop_orphan(paths.data)
    shutil.rmtree(paths.root)
    return {"name": name, "stopped": stopped, "dropped": True}


def _stop_orphan(data: Path) -> None:
    """A postmaster of this data directory that the pidfile does not know (crash leftovers)."""
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    if process.alive(pid):
        import signal

        process.kill(pid, signal.SIGINT)
        process.wait_dead(pid, 30)
