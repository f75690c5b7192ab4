"""Plan -> the disk bounds: how much WAL a lost replica or a lost archive may hold back, how
much server log a member keeps, and when the archive alert fires. Pure (docs/bounds.md).

The disk is the server's (`server.storage_gb`; locally each member's
`environments.local.disk_budget_gb`, the way memory is scaled to `memory_budget_mb`). The
plan's disk alert (`monitoring.disk_pct`, 80 %) says what ordinary use may reach: data,
indexes and the ordinary `pg_wal` (`max_wal_size`). What lies above it, the **reserve**
(20 % of 256 GB = 51.2 GB), is what an incident may eat before PostgreSQL stops on a full disk:

- **WAL held back** for a replica that does not confirm (`max_slot_wal_keep_size`) or for a
  repository that does not take it (pgBackRest `archive-push-queue-max`): half the reserve
  (25.6 GB). Both count back from the current WAL position, so the WAL they keep overlaps and
  `pg_wal` stays under `max_wal_size` + this bound. Past it PostgreSQL invalidates the slot
  (the replica catches up from the archive with `restore_command`, or is re-cloned) and
  pgBackRest drops the queue and tells PostgreSQL it was archived: the primary lives, the
  archive has a gap, and point-in-time recovery across it needs a new full backup.
- **Server logs**: a tenth of the reserve (5.1 GB), and at most `LOG_MAX_AGE_DAYS` days.
- The rest (40 %) is margin: temporary files, a bound overshot by one segment, the time the
  scheduler takes to prune.

The RPO (`dr.rpo_min`) sets the floor: giving the archive up loses the RPO promise, so the
bound must hold at least the WAL written, at the plan's peak rate
(`environments.prod.azure.peak_wal_mb_per_s`), while the archive alert fires (within the RPO)
and the on-call recovers (severity 1, `recover_min`). 1 MB/s x (5 + 30) min = 2.1 GB against
25.6 GB: the bound holds 7 hours of peak WAL. A plan whose bound falls under the floor is
fails the audit's `wal.bound` control.

The archive alert fires on the age of the oldest WAL segment not yet in a repository (what
the RPO is about: data a lost primary would take with it), with the threshold set so that the
worst case, from the outage to the alert, stays inside the RPO.
"""

from __future__ import annotations

from dataclasses import dataclass

from billdb.plan.models import Plan
from billdb.plan.types import size_bytes

GB = 1024**3
MB = 1024**2
WAL_SHARE = 0.5  # of the reserve: WAL held back for a replica or a repository
LOG_SHARE = 0.1  # of the reserve: server logs
LOG_MAX_AGE_DAYS = 7  # the weekly checklist reads a week back; older logs go
LOG_FILES_PER_CAP = 20  # log_rotation_size = cap / this: pruning frees a file at a time
EXPORTER_POLL_S = 5  # billdb's exporter reads each repository's archive this often
REPO_INFO_S = 45  # worst `pgbackrest info --repo=N` time (io-timeout 10 s, retries)
ALERT_FOR_S = 30  # the alert's `for`: one slow poll is not an outage
DEFAULT_PEAK_WAL_MB_S = 1.0  # when the plan names no peak WAL rate
DEFAULT_RECOVER_MIN = 30  # when the plan names no severity-1 recovery time


@dataclass(frozen=True)
class DiskBounds:
    disk_bytes: int
    reserve_bytes: int
    wal_keep_bytes: int  # max_slot_wal_keep_size and archive-push-queue-max
    log_cap_bytes: int
    log_file_bytes: int  # log_rotation_size
    log_max_age_days: int
    floor_bytes: int  # the least the RPO allows
    peak_wal_bytes_per_s: int

    @property
    def ok(self) -> bool:
        return self.wal_keep_bytes >= self.floor_bytes

    @property
    def hold_s(self) -> float:
        """How long the WAL bound lasts at the plan's peak WAL rate."""
        return self.wal_keep_bytes / self.peak_wal_bytes_per_s

    @property
    def wal_keep_mb(self) -> int:
        return self.wal_keep_bytes // MB

    def reasoning(self) -> str:
        return (f"disk {self.disk_bytes / GB:.1f} GB, reserve above the disk alert "
                f"{self.reserve_bytes / GB:.1f} GB: WAL bound {self.wal_keep_mb} MB "
                f"(half the reserve; holds {self.hold_s / 3600:.1f} h at peak), server logs "
                f"{self.log_cap_bytes // MB} MB and {self.log_max_age_days} days; RPO floor "
                f"{self.floor_bytes // MB} MB")


def disk_bytes(plan: Plan, env_name: str = "local") -> int:
    local = plan.environments.local.disk_budget_gb
    gb = local if env_name == "local" and local else plan.server.storage_gb
    return int(gb * GB)


def disk_bounds(plan: Plan, env_name: str = "local") -> DiskBounds:
    disk = disk_bytes(plan, env_name)
    reserve = int(disk * (100 - plan.monitoring.disk_pct) / 100)
    wal = int(reserve * WAL_SHARE) // MB * MB
    logs = int(reserve * LOG_SHARE) // MB * MB
    azure = plan.environments.prod.azure
    peak = int((azure.peak_wal_mb_per_s if azure else DEFAULT_PEAK_WAL_MB_S) * MB)
    sev1 = plan.operations.incidents.get("severity_1")
    recover_min = (sev1.recover_min if sev1 else None) or DEFAULT_RECOVER_MIN
    respond_s = (plan.dr.rpo_min + recover_min) * 60
    return DiskBounds(disk, reserve, wal, logs, max(MB, logs // LOG_FILES_PER_CAP // MB * MB),
                      LOG_MAX_AGE_DAYS, peak * respond_s, peak)


@dataclass(frozen=True)
class ArchiveAlertTiming:
    """From a repository going away to the alert naming it, at worst: the segment being
    written completes (archive_timeout), it waits `threshold_s`, the exporter sees it (its
    poll and a slow `info`), Prometheus scrapes and evaluates, and `for_s` passes."""

    rpo_s: int
    archive_timeout_s: int
    threshold_s: int
    for_s: int
    detect_s: int  # exporter poll + info + scrape + evaluation

    @property
    def worst_s(self) -> int:
        return self.archive_timeout_s + self.threshold_s + self.detect_s + self.for_s

    @property
    def ok(self) -> bool:
        return self.worst_s <= self.rpo_s


def archive_alert_timing(plan: Plan) -> ArchiveAlertTiming:
    """The threshold is what the RPO leaves once the fixed delays are taken off it."""
    mon = plan.environments.local.monitoring
    scrape = (mon.scrape_interval_s + mon.evaluation_interval_s) if mon else 30
    detect = EXPORTER_POLL_S + REPO_INFO_S + scrape
    rpo = plan.dr.rpo_min * 60
    timeout = plan.backup.archive_timeout_s
    threshold = max(timeout, rpo - timeout - detect - ALERT_FOR_S - rpo // 5)
    return ArchiveAlertTiming(rpo, timeout, threshold, ALERT_FOR_S, detect)


def size_mb(value: str) -> int:
    """A PostgreSQL size setting ('2457MB', '-1') in MB; -1 stays -1."""
    return -1 if value.strip() == "-1" else size_bytes(value) // MB
