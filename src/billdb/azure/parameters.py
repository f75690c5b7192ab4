"""The plan's server parameters with Azure's names, units and string values (pure).

The settings both targets share are rendered once, by the local target's
`render.parameters.cluster_settings` (one plan section each); this module only restates them
in Azure's units (every value a string in the parameter's own unit: shared_buffers in 8 kB
pages, work_mem in kB, max_wal_size in MB), leaves out what Azure manages itself (WAL
archiving, replication slots and senders, `ssl`), and adds Azure's own parameters (the
built-in PgBouncer, azure.extensions, require_secure_transport, the time zone, the metrics
collector). There is no ALTER SYSTEM: each one is an ARM operation. Whether one needs a
restart is read from the server when applying (isDynamicConfig, isConfigPendingRestart); the
plan output's annotation asks the PostgreSQL binaries of the plan's major (engines.guc).
"""

from __future__ import annotations

from dataclasses import dataclass

from billdb.plan.models import Plan, Pooler
from billdb.plan.types import size_bytes
from billdb.render.parameters import cluster_settings

# Azure's unit for the size parameters, in bytes.
_UNIT = {"shared_buffers": 8192, "effective_cache_size": 8192, "work_mem": 1024,
         "maintenance_work_mem": 1024, "max_wal_size": 1 << 20, "min_wal_size": 1 << 20}
# Managed by Azure itself (archiving, replication and its WAL retention, TLS on/off and its
# suites and curves, which the local target holds to Mozilla "intermediate": docs/tls.md):
# never set through the API.
_AZURE_OWNS = frozenset({"ssl", "ssl_ciphers", "ssl_ecdh_curve", "archive_mode",
                         "archive_command", "archive_timeout", "synchronous_commit",
                         "wal_level", "hot_standby", "wal_log_hints", "max_wal_senders",
                         "max_replication_slots", "max_slot_wal_keep_size",
                         # Azure rotates and keeps its server logs itself (logfiles.*)
                         "log_rotation_age", "log_rotation_size"})


@dataclass(frozen=True)
class Param:
    name: str
    value: str
    item: str  # the plan item it comes from
    section: str


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


def _shared(plan: Plan) -> list[Param]:
    """The settings the local target renders, in Azure's units."""
    out = []
    for st in cluster_settings(plan, "prod"):
        if st.name in _AZURE_OWNS:
            continue
        value = st.text
        if st.name in _UNIT:
            value = str(size_bytes(value) // _UNIT[st.name])
        elif st.name == "pgaudit.log":
            value = value.replace(", ", ",")
        out.append(Param(st.name, value, st.section, st.section.split()[0]))
    return out


def server_parameters(plan: Plan) -> list[Param]:
    """Every parameter the plan sets on the Azure server, in apply order."""
    sec = plan.security
    return [
        Param("require_secure_transport", _on(sec.ssl_enforced), "security.ssl_enforced",
              "§3.2"),
        Param("azure.extensions", ",".join(sorted(plan.database.extensions)),
              "database.extensions", "§4.1"),
        *_shared(plan), *_pooler(plan.pooler),
        Param("timezone", plan.database.timezone, "database.timezone", "§4.1"),
        # The response-time alert's closest metric (longest_query_time_sec) needs it.
        Param("metrics.collector_database_activity", "on", "monitoring.response_time_ms",
              "§8.1"),
    ]
