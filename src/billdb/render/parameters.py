"""Plan -> PostgreSQL parameters, each tagged with the plan section it comes from.

Cluster-wide values go to Patroni's DCS configuration, so every member gets the same.
On the local environment the memory parameters are scaled to the member's memory budget
with the plan's ratios kept (shared_buffers 4GB of 16GB stays 25 %).
"""

from __future__ import annotations

from dataclasses import dataclass

from billdb.plan.models import Plan
from billdb.plan.types import size_bytes
from billdb.render import bounds, tls
from billdb.render.pgbackrest import archive_command

_MEMORY_SCALED = ("shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem")


PgValue = bool | int | float | str


def conf_text(value: PgValue) -> str:
    """A value as postgresql.conf (and Patroni's configuration) takes it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


@dataclass(frozen=True)
class Setting:
    """One parameter the plan sets. `value` is typed as the plan means it: a bool for
    on/off, a number for a count or a number without a unit, and text for a quantity with
    its unit ('256MB', '60s'), an enum or a list; `text` is the one way it is written out."""

    name: str
    value: PgValue
    section: str

    @property
    def text(self) -> str:
        return conf_text(self.value)


def _scaled(size: str, ratio: float) -> str:
    """A size multiplied by `ratio`, in whole MB (at least 1MB)."""
    if ratio == 1.0:
        return size
    mb = max(1, round(size_bytes(size) * ratio / 1024**2))
    return f"{mb}MB"


def memory_ratio(plan: Plan, env_name: str) -> float:
    if env_name != "local":
        return 1.0
    return plan.environments.local.memory_budget_mb / (plan.server.memory_gb * 1024)


def cluster_settings(plan: Plan, env_name: str = "local") -> list[Setting]:
    """Every cluster-wide parameter billdb manages, with its plan section."""
    p, audit, sec = plan.parameters, plan.security.audit, plan.security
    ratio = memory_ratio(plan, env_name)
    disk = bounds.disk_bounds(plan, env_name)
    mem = {name: _scaled(getattr(p, name), ratio) for name in _MEMORY_SCALED}
    s = "§5.1 parameters"
    out = [
        Setting("max_connections", p.max_connections, s),
        Setting("shared_preload_libraries", ",".join(p.shared_preload_libraries), s),
        *(Setting(name, mem[name], s) for name in _MEMORY_SCALED),
        Setting("checkpoint_completion_target", p.checkpoint_completion_target, s),
        Setting("max_wal_size", p.max_wal_size, s),
        Setting("min_wal_size", p.min_wal_size, s),
        Setting("log_min_duration_statement", p.log_min_duration_statement_ms, s),
        Setting("log_checkpoints", p.log_checkpoints, s),
        Setting("log_connections", p.log_connections, s),
        Setting("log_disconnections", p.log_disconnections, s),
        Setting("track_activities", p.track_activities, s),
        Setting("track_counts", p.track_counts, s),
        Setting("track_io_timing", p.track_io_timing, s),
        Setting("pgaudit.log", ", ".join(audit.pgaudit_log), "§10.3 audit"),
        Setting("log_statement", audit.log_statement, "§10.3 audit"),
        Setting("log_line_prefix", audit.log_line_prefix, "§10.3 audit"),
        Setting("log_lock_waits", audit.log_lock_waits, "§10.3 audit"),
        Setting("log_temp_files", audit.log_temp_files_kb, "§10.3 audit"),
        Setting("ssl", sec.ssl_enforced, "§3.2 security"),
        Setting("ssl_min_protocol_version", sec.tls_min_version, "§3.2 security"),
        # Mozilla "intermediate" (render/tls.py): ECDHE + AEAD only on TLS 1.2, P-256.
        Setting("ssl_ciphers", tls.TLS12_CIPHERS, "§3.2 security"),
        Setting("ssl_ecdh_curve", tls.ECDH_CURVE, "§3.2 security"),
        Setting("password_encryption", sec.password_encryption, "§3.2 security"),
        Setting("archive_timeout", f"{plan.backup.archive_timeout_s}s", "§9.1 backup"),
        Setting("archive_mode", True, "§9.1 backup"),
        Setting("archive_command", archive_command(plan), "§9.1 backup"),
        Setting("synchronous_commit", "on" if plan.ha.synchronous_commit else "local",
                "§2.2 HA"),
        Setting("wal_level", "replica", "§2.2 HA"),
        Setting("hot_standby", True, "§7 read replica"),
        Setting("wal_log_hints", True, "§2.2 HA"),
        Setting("max_wal_senders", 10, "§2.2 HA"),
        Setting("max_replication_slots", 10, "§2.2 HA"),
        # Bounded disk (render/bounds.py, docs/bounds.md): a replica that stops confirming
        # loses its slot before the primary's disk fills.
        Setting("max_slot_wal_keep_size", f"{disk.wal_keep_mb}MB", "§9.2 RPO, disk"),
        # Server logs: one file an hour or per size share of the cap; the scheduler's
        # logs.prune keeps their total and age under the cap.
        Setting("log_rotation_age", "1h", "§14.1 error log"),
        Setting("log_rotation_size", f"{disk.log_file_bytes // bounds.MB}MB",
                "§14.1 error log"),
    ]
    if "pgaudit" not in p.shared_preload_libraries:
        out = [x for x in out if x.name != "pgaudit.log"]
    return out


def cluster_parameters(plan: Plan, env_name: str = "local") -> dict[str, str]:
    return {s.name: s.text for s in cluster_settings(plan, env_name)}
