"""The double's own knowledge of Azure (never imported from billdb's plan or requests).

Written from Microsoft's spec examples and documentation, not from what billdb sends:
- server parameters: Azure answers a configuration GET with value, defaultValue, dataType,
  allowedValues, isDynamicConfig, isReadOnly, isConfigPendingRestart and source; an unset
  parameter reports its default. The defaults below are those of a 4 vCore / 16 GB General
  Purpose server where Azure scales them, otherwise PostgreSQL's; the static (restart) flags
  are Azure's. A name not in the catalogue does not exist (404), as on Azure.
- what each request may carry: the server's create-only and update-only properties
  (x-ms-mutability in the flexibleServers spec) and read-only ones.
"""

from __future__ import annotations

# name -> (default, dataType, dynamic)
PARAMETERS: dict[str, tuple[str, str, bool]] = {
    "require_secure_transport": ("on", "Boolean", True),
    "ssl_min_protocol_version": ("TLSv1.2", "Enumeration", True),
    "password_encryption": ("scram-sha-256", "Enumeration", True),
    "azure.extensions": ("", "Set", True),
    "shared_preload_libraries": ("pg_cron,pg_stat_statements", "Set", False),
    "pgaudit.log": ("none", "Set", True),
    "log_statement": ("none", "Enumeration", True),
    "log_line_prefix": ("%t-%c-", "String", True),
    "log_lock_waits": ("off", "Boolean", True),
    "log_temp_files": ("-1", "Integer", True),
    "pgbouncer.enabled": ("false", "Boolean", True),
    "pgbouncer.pool_mode": ("TRANSACTION", "Enumeration", True),
    "pgbouncer.default_pool_size": ("50", "Integer", True),
    "pgbouncer.max_client_conn": ("5000", "Integer", True),
    "pgbouncer.max_prepared_statements": ("0", "Integer", True),
    "max_connections": ("1718", "Integer", False),
    "shared_buffers": ("524288", "Integer", False),
    "effective_cache_size": ("1572864", "Integer", True),
    "work_mem": ("4096", "Integer", True),
    "maintenance_work_mem": ("262144", "Integer", True),
    "checkpoint_completion_target": ("0.9", "Numeric", True),
    "max_wal_size": ("2048", "Integer", True),
    "min_wal_size": ("80", "Integer", True),
    "log_min_duration_statement": ("-1", "Integer", True),
    "log_checkpoints": ("on", "Boolean", True),
    "log_connections": ("on", "Boolean", True),
    "log_disconnections": ("off", "Boolean", True),
    "track_activities": ("on", "Boolean", True),
    "track_counts": ("on", "Boolean", True),
    "track_io_timing": ("on", "Boolean", True),
    "timezone": ("UTC", "String", True),
    "metrics.collector_database_activity": ("off", "Boolean", True),
    "max_worker_processes": ("8", "Integer", False),
    "wal_level": ("replica", "Enumeration", False),
}

# Server properties by mutability (the spec's x-ms-mutability; readOnly ones are "read").
SERVER_CREATE_ONLY = (("location",), ("properties", "administratorLogin"),
                      ("properties", "backup", "geoRedundantBackup"),
                      ("properties", "sourceServerResourceId"))
SERVER_UPDATE_ONLY = (("properties", "maintenanceWindow"), ("properties", "replica"))
SERVER_READ_ONLY = (("properties", "state"), ("properties", "fullyQualifiedDomainName"),
                    ("properties", "minorVersion"), ("properties", "replicaCapacity"),
                    ("properties", "highAvailability", "state"))
CREATE_MODES_NEW = ("Create", "Default", "Replica", "PointInTimeRestore", "GeoRestore",
                    "ReviveDropped")
