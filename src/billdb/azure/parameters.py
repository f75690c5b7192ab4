"""The plan's server parameters with Azure's names, units and string values (pure).

Azure takes every value as a string in the parameter's own unit (shared_buffers in 8 kB
pages, work_mem in kB, max_wal_size in MB). There is no ALTER SYSTEM: each one is an ARM
operation. `STATIC` ones need a restart (ENGINE-NOTES: measured on the 2026-10-01 API).
"""

from __future__ import annotations

from dataclasses import dataclass

from billdb.plan.models import Plan, Pooler
from billdb.plan.types import size_bytes

STATIC = frozenset({"max_connections", "shared_buffers", "shared_preload_libraries"})


@dataclass(frozen=True)
class Param:
    name: str
    value: str
    item: str  # the plan item it comes from
    section: str

    @property
    def static(self) -> bool:
        return self.name in STATIC


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _units(size: str, unit: int) -> str:
    return str(size_bytes(size) // unit)


def _pooler(pool: Pooler) -> list[Param]:
    """The built-in PgBouncer. Azure's has no reserve pool: the reserve is folded into the
    default pool."""
    out = [Param("pgbouncer.enabled", "true" if pool.enabled else "false", "pooler.enabled",
                 "§5.2")]
    if pool.enabled:
        out += [
            Param("pgbouncer.pool_mode", pool.mode.upper(), "pooler.mode", "§5.2"),
            Param("pgbouncer.default_pool_size",
                  str(pool.default_pool_size + pool.reserve_pool_size),
                  "pooler.default_pool_size + reserve_pool_size", "§5.2"),
            Param("pgbouncer.max_client_conn", str(pool.max_client_conn),
                  "pooler.max_client_conn", "§5.2"),
            # Without it every pooled statement is parsed and planned again (issue 13).
            Param("pgbouncer.max_prepared_statements", str(pool.max_prepared_statements),
                  "pooler.max_prepared_statements", "§5.2"),
        ]
    return out


def server_parameters(plan: Plan) -> list[Param]:
    """Every parameter the plan sets on the Azure server, in apply order."""
    p, sec, au, pool = plan.parameters, plan.security, plan.security.audit, plan.pooler
    out = [
        Param("require_secure_transport", _on(sec.ssl_enforced), "security.ssl_enforced", "§3.2"),
        Param("ssl_min_protocol_version", sec.tls_min_version, "security.tls_min_version",
              "§3.2"),
        Param("password_encryption", sec.password_encryption, "security.password_encryption",
              "§10.2"),
        Param("azure.extensions", ",".join(sorted(plan.database.extensions)),
              "database.extensions", "§4.1"),
        Param("shared_preload_libraries", ",".join(p.shared_preload_libraries),
              "parameters.shared_preload_libraries", "§5.1"),
        Param("pgaudit.log", ",".join(au.pgaudit_log), "security.audit.pgaudit_log", "§10.3"),
        Param("log_statement", au.log_statement, "security.audit.log_statement", "§10.3"),
        Param("log_line_prefix", au.log_line_prefix, "security.audit.log_line_prefix", "§10.3"),
        Param("log_lock_waits", _on(au.log_lock_waits), "security.audit.log_lock_waits",
              "§10.3"),
        Param("log_temp_files", str(au.log_temp_files_kb), "security.audit.log_temp_files_kb",
              "§10.3"),
    ]
    out += _pooler(pool)
    out += [
        Param("max_connections", str(p.max_connections), "parameters.max_connections", "§5.1"),
        Param("shared_buffers", _units(p.shared_buffers, 8192), "parameters.shared_buffers",
              "§5.1"),
        Param("effective_cache_size", _units(p.effective_cache_size, 8192),
              "parameters.effective_cache_size", "§5.1"),
        Param("work_mem", _units(p.work_mem, 1024), "parameters.work_mem", "§5.1"),
        Param("maintenance_work_mem", _units(p.maintenance_work_mem, 1024),
              "parameters.maintenance_work_mem", "§5.1"),
        Param("checkpoint_completion_target", str(p.checkpoint_completion_target),
              "parameters.checkpoint_completion_target", "§5.1"),
        Param("max_wal_size", _units(p.max_wal_size, 1 << 20), "parameters.max_wal_size",
              "§5.1"),
        Param("min_wal_size", _units(p.min_wal_size, 1 << 20), "parameters.min_wal_size",
              "§5.1"),
        Param("log_min_duration_statement", str(p.log_min_duration_statement_ms),
              "parameters.log_min_duration_statement_ms", "§8.2"),
    ]
    for flag in ("log_checkpoints", "log_connections", "log_disconnections",
                 "track_activities", "track_counts", "track_io_timing"):
        out.append(Param(flag, _on(getattr(p, flag)), f"parameters.{flag}", "§5.1"))
    out += [
        Param("timezone", plan.database.timezone, "database.timezone", "§4.1"),
        # The response-time alert's closest metric (longest_query_time_sec) needs it.
        Param("metrics.collector_database_activity", "on", "monitoring.response_time_ms",
              "§8.1"),
    ]
    return out
