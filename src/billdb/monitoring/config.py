"""Plan -> the stack's configuration files (pure functions): prometheus.yml, alertmanager.yml
and postgres_exporter's queries.yaml, written as YAML (config.dump)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from billdb import sql as sqlfiles
from billdb.plan.local_models import LocalEnvironment

# postgres_exporter metrics are <query>_<column>; every query runs on every member
# (no `master: true`: it means "the first DSN", not the primary).
QUERIES: dict[str, dict[str, tuple[str, str]]] = {
    "pg_billdb_backends": {"client": ("GAUGE", "client backends"),
                           "max_connections": ("GAUGE", "max_connections")},
    "pg_billdb_standbys": {"is_primary": ("GAUGE", "1 on the primary"),
                           "streaming": ("GAUGE", "streaming standbys (primary's view)"),
                           "sync": ("GAUGE", "synchronous standbys"),
                           "max_lag_bytes": ("GAUGE", "largest replay lag in bytes")},
    "pg_billdb_slots": {"given_up": ("GAUGE", "slots past max_slot_wal_keep_size"),
                        "total": ("GAUGE", "replication slots")},
    "pg_billdb_replay": {"lag_seconds": ("GAUGE", "replay delay of a standby")},
    "pg_billdb_xact": {"longest_seconds": ("GAUGE", "oldest open transaction"),
                       "max_xid_age": ("GAUGE", "oldest datfrozenxid age")},
    "pg_billdb_database": {c: ("COUNTER", c) for c in (
        "blks_hit", "blks_read", "xact_commit", "xact_rollback", "deadlocks", "temp_files")},
    "pg_billdb_statements": {"total_exec_time_ms": ("COUNTER", "pg_stat_statements total"),
                             "calls": ("COUNTER", "pg_stat_statements calls")},
    # In place of the exporter's bgwriter collector, which reads pg_stat_bgwriter columns
    # that PostgreSQL 17 moved to pg_stat_checkpointer (it fails on every scrape there):
    # the same names on every version, from the view the server has.
    "pg_billdb_checkpoints": {
        "timed": ("COUNTER", "scheduled checkpoints"),
        "requested": ("COUNTER", "requested checkpoints"),
        "buffers_written": ("COUNTER", "buffers written by checkpoints"),
        "write_time_ms": ("COUNTER", "time writing checkpoint files"),
        "sync_time_ms": ("COUNTER", "time syncing checkpoint files")},
    "pg_billdb_bgwriter": {"buffers_clean": ("COUNTER", "buffers the background writer wrote"),
                           "maxwritten_clean": ("COUNTER", "bgwriter stops at its limit"),
                           "buffers_alloc": ("COUNTER", "buffers allocated")},
}
# postgres_exporter 0.11 flags: billdb's queries only. The built-in replication-slot query
# fails on every standby ("recovery is in progress"), the bgwriter collector on PostgreSQL 17.
EXPORTER_FLAGS = ["--disable-default-metrics", "--disable-settings-metrics",
                  "--no-collector.bgwriter"]


def queries_yaml(major: int) -> str:
    """--extend.query-path for PostgreSQL `major`: the key is the metric prefix (the exporter
    adds none); a query that differs between versions is chosen by `major`."""
    out = {name: {"query": sqlfiles.load_for(f"monitoring/{name.removeprefix('pg_billdb_')}",
                                             major),
                  "metrics": [{col: {"usage": usage, "description": desc}}
                              for col, (usage, desc) in cols.items()]}
           for name, cols in QUERIES.items()}
    return dump(out)


@dataclass(frozen=True)
class ScrapeTarget:
    """One target Prometheus scrapes: its job, the label naming it (`member` for a member's
    exporters, `instance_name` otherwise) and that name, and its port on 127.0.0.1."""

    job: str
    label: str
    name: str
    port: int


def scrape_targets(env: LocalEnvironment) -> list[ScrapeTarget]:
    """Every target of prometheus.yml, in job order: what up writes and verify expects up."""
    mon = env.monitoring
    assert mon is not None
    pg = zip(env.members, mon.postgres_exporter_ports, strict=True)
    return [ScrapeTarget("prometheus", "instance_name", "prometheus", mon.prometheus_port),
            ScrapeTarget("node", "instance_name", "host", mon.node_exporter_port),
            *(ScrapeTarget("postgres", "member", m.name, port) for m, port in pg),
            *(ScrapeTarget("patroni", "member", m.name, m.rest_port) for m in env.members),
            ScrapeTarget("billdb", "instance_name", "billdb", mon.exporter_port)]


def _scrape_configs(targets: list[ScrapeTarget]) -> list[dict]:
    jobs = list(dict.fromkeys(t.job for t in targets))
    return [{"job_name": job, "static_configs": [
                {"targets": [f"127.0.0.1:{t.port}"], "labels": {t.label: t.name}}
                for t in targets if t.job == job],
             **({"scheme": "http"} if job == "patroni" else {})}
            for job in jobs]


def prometheus_config(env: LocalEnvironment, rule_path: Path) -> dict:
    mon = env.monitoring
    assert mon is not None
    interval = f"{mon.scrape_interval_s}s"
    # A scrape of a down PostgreSQL takes ~1.4 s: keep the timeout above that so pg_up 0 is
    # seen as such instead of turning into up 0.
    timeout = f"{max(2, mon.scrape_interval_s)}s"
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": timeout,
                   "evaluation_interval": f"{mon.evaluation_interval_s}s"},
        "rule_files": [str(rule_path)],
        "alerting": {"alertmanagers": [{"static_configs": [
            {"targets": [f"127.0.0.1:{mon.alertmanager_port}"]}]}]},
        "scrape_configs": _scrape_configs(scrape_targets(env)),
    }


def receiver_url(env: LocalEnvironment) -> str:
    mon = env.monitoring
    assert mon is not None
    return mon.receiver_url or f"http://127.0.0.1:{mon.receiver_port}/alerts"


def alertmanager_config(env: LocalEnvironment) -> dict:
    """sev1 goes out at once and is repeated; sev2/sev3 are grouped by alert name."""
    hook = {"url": receiver_url(env), "send_resolved": True}
    return {
        "route": {"receiver": "billdb", "group_by": ["alertname", "severity"],
                  "group_wait": "5s", "group_interval": "10s", "repeat_interval": "4h",
                  "routes": [
                      {"matchers": ['severity="sev1"'], "receiver": "billdb",
                       "group_by": ["alertname", "member"], "group_wait": "0s",
                       "group_interval": "5s", "repeat_interval": "15m"},
                      {"matchers": ['severity=~"sev2|sev3"'], "receiver": "billdb"},
                  ]},
        "receivers": [{"name": "billdb", "webhook_configs": [hook]}],
    }


def _literal(value: object) -> object:
    """A multi-line string (a PromQL expression, an annotation) as a literal block."""
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value.strip("\n") + "\n")
    return value


def dump(doc: dict) -> str:
    """YAML as Prometheus and Alertmanager users read and write it: block style, keys in the
    order given (alert, expr, for, labels, annotations), multi-line expressions as literal
    blocks. `promtool check` reads it in tests/test_monitoring_rules.py."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096  # a long expression stays on its line
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(_literal(doc), out)
    return out.getvalue()
