"""Names billdb itself uses that the plan does not choose."""

SUPERUSER = "postgres"  # billdb's administrator connection (`billdb dsn --role admin`)
REPLICATION_USER = "replicator"  # streaming replication between members
REWIND_USER = "rewinder"  # pg_rewind when a crashed primary rejoins
MONITOR_USER = "billdb_monitor"  # the exporters' login, pg_monitor only (monitoring/stack.py)
ADMIN_ROLE_ALIAS = "admin"
