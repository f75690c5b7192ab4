"""Plan -> Prometheus alerting rules (pure functions, no I/O).

The plan's six §8.1 alerts with the thresholds of `monitoring:`, and the alerts the field's rule
sets agree on (awesome-prometheus-alerts, postgres-mixin, CloudNativePG's samples). Every alert
carries `severity` (§14.2: sev1 outage, sev2 degradation, sev3 minor) and `section` (the plan
section it proves). The metric names come from: node_exporter (node_*), postgres_exporter with
billdb's queries (pg_billdb_*, monitoring/queries.py), Patroni's /metrics (patroni_*) and
billdb's exporter (billdb_*, monitoring/exporter.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from billdb.plan.models import Plan
from billdb.render import bounds

PRIMARY = "on(instance) (pg_billdb_standbys_is_primary == 1)"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str  # sev1 | sev2 | sev3
    section: str
    summary: str
    for_: str = "0s"

    def rule(self) -> dict:
        return {"alert": self.name, "expr": self.expr, "for": self.for_,
                "labels": {"severity": self.severity, "section": self.section},
                "annotations": {"summary": self.summary, "value": "{{ $value }}"}}


def plan_alerts(plan: Plan, mountpoint: str) -> list[Alert]:
    """§8.1's six alerts, measured honestly (docs/monitoring.md says what each one sees)."""
    m = plan.monitoring
    fs = f'mountpoint="{mountpoint}",fstype!~"tmpfs|overlay_ro"'
    used = f"(node_filesystem_size_bytes{{{fs}}} - node_filesystem_free_bytes{{{fs}}})"
    return [
        Alert("HostCpuHigh", f'100 * (1 - avg(rate(node_cpu_seconds_total{{mode="idle"}}[1m])))'
              f" >= {m.cpu_pct}", "sev2", "§8.1 cpu", f"host CPU >= {m.cpu_pct} %", "5m"),
        Alert("HostMemoryHigh", "100 * (1 - node_memory_MemAvailable_bytes / "
              f"node_memory_MemTotal_bytes) >= {m.memory_pct}", "sev2", "§8.1 memory",
              f"host memory >= {m.memory_pct} %", "5m"),
        Alert("StateDiskHigh", f"100 * {used} / ({used} + node_filesystem_avail_bytes{{{fs}}})"
              f" >= {m.disk_pct}", "sev2", "§8.1 disk",
              f"state directory's filesystem >= {m.disk_pct} % (df's formula)", "5m"),
        Alert("PostgresConnectionsHigh", f"pg_billdb_backends_client >= {m.connections}", "sev2",
              "§8.1 connections", f"client backends >= {m.connections} on a member", "30s"),
        Alert("ProbeLatencyHigh", "histogram_quantile(0.99, sum by (route, le) "
              "(rate(billdb_probe_latency_seconds_bucket[1m]))) * 1000 >= "
              f"{m.response_time_ms}", "sev2", "§8.1 response time",
              f"probe p99 >= {m.response_time_ms} ms", "1m"),
        Alert("FailedConnectionsHigh", "sum by (member) "
              f"(increase(billdb_pg_failed_connections_total[1m])) >= "
              f"{m.failed_connections_per_min}", "sev2", "§8.1 failed connections",
              f">= {m.failed_connections_per_min} failed connections a minute on a member"),
    ]


def field_alerts(plan: Plan, n_members: int, sync_mode: bool) -> list[Alert]:
    """What every PostgreSQL rule set adds (availability, replication, backups, hygiene)."""
    rr = plan.read_replica
    out = [
        Alert("PostgresDown", "pg_up == 0", "sev1", "§2.2 availability",
              "PostgreSQL does not answer its exporter", "15s"),
        Alert("ExporterDown", "up == 0", "sev2", "§8 monitoring",
              "a scrape target is down (its metrics are gone, not 0)", "15s"),
        Alert("PatroniPostgresNotRunning", "patroni_postgres_running == 0", "sev1",
              "§2.2 availability", "Patroni reports its PostgreSQL not running", "15s"),
        Alert("PatroniNoLeader", "(sum(patroni_primary) or vector(0)) < 1", "sev1",
              "§2.2 availability", "no member is the Patroni leader", "10s"),
        # against the lowest timeline of the last 3 min (not `offset 3m`, which is empty for the
        # first 3 min of a fresh Prometheus); a Patroni whose PostgreSQL is not up yet reports 0
        Alert("PostgresFailover", "max(patroni_postgres_timeline) > "
              "min(min_over_time((patroni_postgres_timeline > 0)[3m:]))", "sev1",
              "§14.2 severity 1",
              "the timeline changed: a failover happened; confirm it"),
        Alert("StandbysMissing", f"pg_billdb_standbys_streaming < {n_members - 1} and {PRIMARY}",
              "sev2", "§2.2 HA, §7 replica", f"fewer than {n_members - 1} streaming standbys",
              "10s"),
        Alert("ReplicationLagBytes", f"pg_billdb_standbys_max_lag_bytes > {rr.max_lag_bytes}"
              f" and {PRIMARY}", "sev2", "§7 replica",
              f"a standby lags more than {rr.max_lag_bytes} bytes", "1m"),
        Alert("ReplicationLagSeconds", f"pg_billdb_replay_lag_seconds > {plan.dr.rpo_min * 60}",
              "sev2", "§9.2 RPO", f"a standby replays more than {plan.dr.rpo_min} min behind",
              "1m"),
        Alert("WalArchivingFailing", "billdb_archiver_failing == 1", "sev2", "§9.1 backup",
              "the last WAL archive attempt failed", "1m"),
        Alert("WalArchiveStale", "billdb_archiver_last_archive_age_seconds > 600 and "
              "billdb_archiver_ready_segments > 0", "sev2", "§9.1 backup",
              "WAL is waiting and nothing was archived for 10 min", "1m"),
        Alert("BackupTooOld", "billdb_backup_age_seconds > 26 * 3600", "sev2", "§9.1 backup",
              "the last backup of a repository is older than the daily schedule allows", "5m"),
        Alert("PgbouncerClientsWaiting", "sum by (database) (billdb_pgbouncer_clients_waiting)"
              " > 0", "sev2", "§5 pooler", "clients wait for a server connection", "1m"),
        Alert("PostgresDeadlocks", "increase(pg_billdb_database_deadlocks[5m]) > 0", "sev3",
              "§8.2 database", "deadlocks in the last 5 minutes"),
        Alert("PostgresLongTransaction", "pg_billdb_xact_longest_seconds > 300", "sev3",
              "§8.2 database", "a transaction has been open for more than 5 min"),
        Alert("PostgresXidAge", "pg_billdb_xact_max_xid_age > 1500000000", "sev2",
              "§8.2 database", "transaction-ID age is past 1.5 billion (wraparound ahead)"),
        Alert("PostgresCacheHitLow", "rate(pg_billdb_database_blks_hit[5m]) / "
              "(rate(pg_billdb_database_blks_hit[5m]) + rate(pg_billdb_database_blks_read[5m]))"
              " < 0.98", "sev3", "§8.2 database", "cache hit ratio under 0.98", "10m"),
        Alert("PostgresStatementsSlow", "rate(pg_billdb_statements_total_exec_time_ms[5m]) / "
              "rate(pg_billdb_statements_calls[5m]) >= "
              f"{plan.monitoring.response_time_ms}", "sev3", "§8.1 response time",
              "mean statement time (pg_stat_statements deltas) over the response time", "5m"),
        Alert("TlsCertificateExpiring", "billdb_cert_expiry_seconds < 30 * 86400", "sev3",
              "§10 security", "the TLS server certificate expires within 30 days"),
    ]
    if sync_mode:
        out.append(Alert("SyncStandbyMissing", f"pg_billdb_standbys_sync < 1 and {PRIMARY}",
                         "sev2", "§2.2 HA", "no synchronous standby", "10s"))
    return out


def bound_alerts(plan: Plan) -> list[Alert]:
    """The archive per repository against the RPO, and the disk bounds given up (issue 22;
    thresholds from render/bounds.py, docs/bounds.md)."""
    t = bounds.archive_alert_timing(plan)
    wal_mb = bounds.disk_bounds(plan).wal_keep_mb
    return [
        Alert("WalArchiveBehind", f"billdb_wal_archive_lag_seconds > {t.threshold_s}", "sev2",
              "§9.2 RPO", "{{ $labels.repo }} lacks WAL completed more than "
              f"{t.threshold_s} s ago (pgBackRest's own view; fires within the "
              f"{plan.dr.rpo_min}-minute RPO)", f"{t.for_s}s"),
        Alert("PgbackrestRepoUnreachable", "billdb_pgbackrest_repo_status != 0", "sev2",
              "§9.1 backup", "pgBackRest cannot read {{ $labels.repo }}", "1m"),
        Alert("WalArchiveDropped", "increase(billdb_wal_archive_dropped_total[15m]) > 0 or "
              "billdb_wal_archive_gap > 0", "sev1", "§9.2 RPO, disk",
              f"the archive was given up at archive-push-queue-max ({wal_mb} MB) to keep the "
              "primary's disk: point-in-time recovery has a gap until a new full backup"),
        Alert("ReplicationSlotGivenUp", "pg_billdb_slots_given_up > 0", "sev1",
              "§7 replica, disk", f"a replica fell more than max_slot_wal_keep_size "
              f"({wal_mb} MB) behind: its slot is given up to keep the primary's disk; it "
              "catches up from the archive or is re-cloned"),
    ]


def all_alerts(plan: Plan, mountpoint: str, n_members: int, sync_mode: bool) -> list[Alert]:
    return (plan_alerts(plan, mountpoint) + field_alerts(plan, n_members, sync_mode)
            + bound_alerts(plan))


def rule_file(alerts: list[Alert]) -> dict:
    """The Prometheus rule file: one group, evaluated at the global interval."""
    return {"groups": [{"name": "billdb", "rules": [a.rule() for a in alerts]}]}
