"""The daily checklist (plan §14.1): availability, resources, backups, slow statements,
errors, connections. Each item reads the tool that knows (supervisord, Patroni, pgBackRest,
the server logs, pg_stat_activity, Prometheus through state.metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from billdb import sql as sqlfiles
from billdb import times
from billdb.context import Context
from billdb.engines.patroni import PatroniAPI
from billdb.operations import logscan, store
from billdb.operations.results import FAIL, PASS, WARN, item
from billdb.ops import status as status_op
from billdb.ops.verify import backup as verify_backup
from billdb.state import cluster, metrics

S = "§14.1 daily"


@dataclass(frozen=True)
class Failover:
    """A leader change the checklist reports: the timeline that began, when (shown in the
    plan's zone like every other time) and its leader."""

    timeline: int
    at: datetime
    leader: str


def _failovers(ctx: Context, since: datetime) -> list[Failover]:
    """Leader changes in Patroni's history (GET /history, from the first member that answers)
    since `since`."""
    for m in ctx.members:
        history = PatroniAPI(m).history()
        if history is not None:
            return [Failover(s.timeline, s.at, s.new_leader or "?")
                    for s in history if s.at is not None and s.at >= since]
    return []


def availability(ctx: Context, since: datetime) -> dict[str, Any]:
    mem = status_op.members(ctx)
    svcs = status_op.service_states(ctx)
    down = [m["name"] for m in mem if m["state"] not in ("running", "streaming")]
    down += [s["name"] for s in svcs if s["state"] != "running"]
    restarts = {m["name"]: (m.get("supervisor") or {}).get("restarts", 0) for m in mem}
    restarts |= {s["name"]: s.get("restarts", 0) for s in svcs}
    prev = (store.state(ctx, "daily").get("restarts") or {})
    new = {k: v - prev.get(k, 0) for k, v in restarts.items() if v - prev.get(k, 0) > 0}
    fo = _failovers(ctx, since)
    status = FAIL if down else (WARN if new or fo else PASS)
    return item("availability", S, status, {
        "members": {m["name"]: f"{m['role']} {m['state']}" for m in mem},
        "services": {s["name"]: s["state"] for s in svcs}, "down": down,
        "restarts_since_last_run": new, "failovers": fo,
        "source": "supervisord (restarts), Patroni /cluster and /history"}, since.isoformat()), \
        restarts


def resources(ctx: Context, since: datetime) -> dict[str, Any]:
    mon = ctx.plan.monitoring
    # CPU as the alert judges it (§8.1, `for: 5m`): a 5-minute average, not a burst.
    queries = {"cpu_pct": ("100 * (1 - avg(rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))",
                           mon.cpu_pct),
               "memory_pct": ("100 * (1 - node_memory_MemAvailable_bytes / "
                              "node_memory_MemTotal_bytes)", mon.memory_pct),
               "disk_pct": ("100 * max((node_filesystem_size_bytes - node_filesystem_avail_bytes)"
                            " / node_filesystem_size_bytes)", mon.disk_pct)}
    peaks = {k: metrics.peak(ctx, q, 24) for k, (q, _) in queries.items()}
    if all(v is None for v in peaks.values()):
        return item("resources", S, WARN, {"note": metrics.NOT_CONFIGURED,
                                           "thresholds": {k: t for k, (_, t) in queries.items()}},
                    since.isoformat())
    over = [k for k, v in peaks.items() if v is not None and v >= queries[k][1]]
    findings, over_now, peak_at = _peak_findings(ctx, {k: (q, queries[k][1]) for k, (q, _)
                                                       in queries.items() if k in over})
    status = FAIL if over_now else (WARN if over else PASS)
    return item("resources", S, status,
                {"peak_24h": peaks, "thresholds": {k: t for k, (_, t) in queries.items()},
                 "over": over, "findings": findings, "peak_at": peak_at,
                 "source": "Prometheus (node_exporter)"},
                since.isoformat())


def _peak_findings(ctx: Context, over: dict[str, tuple[str, float]]
                   ) -> tuple[list[str], list[str], dict[str, str]]:
    """For each metric whose 24-hour peak crossed its threshold: whether it still is over
    ("is") or was ("was"), and when the peak was. (sentences, metrics over now, peak times)"""
    findings, over_now, when = [], [], {}
    for k, (q, limit) in over.items():
        at = metrics.peak_at(ctx, q, 24)
        now = metrics.now_value(ctx, q)
        peak = f"{at[0]:.1f}" if at else "over"
        if at:
            when[k] = times.for_json(at[1])
        if now is not None and now >= limit:
            over_now.append(k)
            findings.append(f"{k} is {now:.1f}, over {limit} (24-hour peak {peak}, see peak_at)")
        else:
            now_text = f"{now:.1f}" if now is not None else "unknown"
            findings.append(f"{k} was {peak} (see peak_at), over {limit}; now {now_text}")
    return findings, over_now, when


def backups(ctx: Context, since: datetime) -> dict[str, Any]:
    checks = [c for c in verify_backup.checks(ctx) if c.id != "backup.logical_age"]
    failed = [c for c in checks if not c.ok]
    return item("backups", S, FAIL if failed else PASS,
                {c.id: c.actual for c in checks} | {"failed": [c.id for c in failed],
                                                    "source": "pgbackrest check/info, "
                                                    "pg_stat_archiver, scheduler state"},
                since.isoformat())


def logs(ctx: Context, since: datetime, known: dict[str, Any]) -> tuple[list, dict]:
    files = sorted(p for m in ctx.members
                   for p in ctx.layout.member(m.name).pg_log_dir.glob("*.log"))
    sc = logscan.scan(files, known.get("offsets", {}))
    threshold = ctx.plan.parameters.log_min_duration_statement_ms
    slow = item("slow_queries", S, WARN if sc.slow else PASS,
                {"over_ms": threshold, "count": len(sc.slow),
                 "top": [{"ms": ms, "statement": st} for ms, st in sc.slow[:5]],
                 "lines_read": sc.lines, "source": f"{len(files)} server log files"},
                since.isoformat())
    seen = set(known.get("error_kinds", []))
    baseline = "error_kinds" not in known  # the first run learns the kinds already there
    new = [] if baseline else sorted(k for k in sc.errors if k not in seen)
    bad = [k for k in sc.errors if k.startswith("PANIC")]
    status = FAIL if bad else (WARN if new else PASS)
    errs = item("errors", S, status, {"by_kind": sc.errors, "new_kinds": new,
                                      "total": sum(sc.errors.values()),
                                      **({"note": "first run: these kinds are the baseline"}
                                         if baseline else {}),
                                      "source": "server logs since the last run"},
                since.isoformat())
    return [slow, errs], {"offsets": sc.offsets, "error_kinds": sorted(seen | set(sc.errors))}


def connections(ctx: Context, since: datetime) -> dict[str, Any]:
    """Client backends now and their 24-hour peak on any member (the series the §8.1 alert
    reads) against the plan's limit; the probe's p99 against the response-time target."""
    mon = ctx.plan.monitoring
    with cluster.admin_connect(ctx) as conn:
        now = conn.execute(sqlfiles.load("checklist/connections")).fetchone()[0]
    peak = metrics.highest(ctx, "pg_billdb_backends_client", 24)
    p99 = metrics.peak(ctx, "histogram_quantile(0.99, sum by (route, le) "
                       "(rate(billdb_probe_latency_seconds_bucket[1m]))) * 1000", 24)
    over = [k for k, v, limit in (("connections", max(now, peak or 0), mon.connections),
                                  ("probe_p99_ms", p99, mon.response_time_ms))
            if v is not None and v >= limit]
    status = FAIL if over else (WARN if peak is None or p99 is None else PASS)
    return item("connections", S, status, {
        "now": now, "peak_24h": peak if peak is not None else metrics.NOT_CONFIGURED,
        "limit": mon.connections,
        "probe_p99_ms": round(p99, 1) if p99 is not None else metrics.NOT_CONFIGURED,
        "p99_limit_ms": mon.response_time_ms, "over": over,
        "source": "pg_stat_activity on the primary; Prometheus (pg_billdb_backends_client, "
                  "billdb_probe_latency_seconds) for the 24-hour peaks"},
        since.isoformat())


def run(ctx: Context, record: bool = True) -> list[dict[str, Any]]:
    last = store.last_run(ctx, "daily")
    since = (datetime.fromisoformat(last["finished"]) if last
             else datetime.now(UTC) - timedelta(hours=24))
    known = store.state(ctx, "daily")
    avail, restarts = availability(ctx, since)
    items = [avail, resources(ctx, since), backups(ctx, since)]
    log_items, log_state = logs(ctx, since, known)
    items += log_items
    items.append(connections(ctx, since))
    if record:  # a --dry-run looks without moving the log offsets or the restart counts
        store.save_state(ctx, "daily", known | log_state | {"restarts": restarts})
    return items
