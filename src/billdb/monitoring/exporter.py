"""billdb's exporter (prometheus_client), for what no packaged exporter gives:

- billdb_pg_failed_connections_total{member,reason}: PostgreSQL keeps no counter of failed
  connections, so the server log's own lines are counted (new lines only; every series starts
  at 0, so the first increase is seen);
- billdb_probe_latency_seconds{route}: a bound lookup of the service's kind (customer_get.sql)
  every few seconds on the write and the read route, as the application's roles;
- billdb_pgbouncer_*: SHOW POOLS / SHOW STATS (Debian's pgbouncer exporter crashes on 1.18);
- billdb_backup_age_seconds{repo}: pgBackRest's newest backup per repository;
- billdb_archiver_*: pg_stat_archiver on the primary and the WAL segments waiting (.ready);
- billdb_wal_archive_lag_seconds{repo}, billdb_pgbackrest_repo_status{repo}: what pgBackRest
  reports per repository (ops/backup/archive_state.py): the age of the oldest WAL the
  repository lacks, and whether pgBackRest can read it;
- billdb_wal_archive_dropped_total, billdb_wal_archive_gap{repo}: WAL dropped at
  archive-push-queue-max, and repositories with no full backup since (backups broken);
- billdb_cert_expiry_seconds{cert}: the TLS server certificate.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from billdb_client import sql as client_sql
from cryptography import x509
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.engines import postgres
from billdb.ops import connections
from billdb.ops.backup import archive_state
from billdb.ops.backup import common as backup_common
from billdb.render.bounds import EXPORTER_POLL_S
from billdb.state import cluster, pooler

log = logging.getLogger("billdb.exporter")

REASONS = {
    "password": re.compile(r"password authentication failed"),
    "hba": re.compile(r"no pg_hba\.conf entry"),
    "role": re.compile(r'FATAL:\s+role ".*" does not exist'),
    "too_many": re.compile(r"sorry, too many clients|remaining connection slots are reserved"),
    "tls": re.compile(r"could not accept SSL connection|SSL error|unsupported protocol"),
}
FAILED = Counter("billdb_pg_failed_connections", "failed connection attempts in the server log",
                 ["member", "reason"])
PROBE = Histogram("billdb_probe_latency_seconds", "latency of the probe statement",
                  ["route"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
PROBE_ERRORS = Counter("billdb_probe_errors", "probe statements that failed", ["route"])
WAITING = Gauge("billdb_pgbouncer_clients_waiting", "SHOW POOLS cl_waiting",
                ["database", "user"])
ACTIVE = Gauge("billdb_pgbouncer_clients_active", "SHOW POOLS cl_active", ["database", "user"])
MAXWAIT = Gauge("billdb_pgbouncer_maxwait_seconds", "SHOW POOLS maxwait", ["database", "user"])
XACTS = Gauge("billdb_pgbouncer_xact_count", "SHOW STATS total_xact_count", ["database"])
BACKUP_AGE = Gauge("billdb_backup_age_seconds", "age of the newest backup", ["repo"])
ARCH_AGE = Gauge("billdb_archiver_last_archive_age_seconds", "since the last archived WAL")
ARCH_FAILING = Gauge("billdb_archiver_failing", "1 when the last attempt failed")
ARCH_READY = Gauge("billdb_archiver_ready_segments", "WAL segments waiting to be archived")
REPO_LAG = Gauge("billdb_wal_archive_lag_seconds", "age of the oldest completed WAL segment "
                 "the repository lacks (0: it has them all)", ["repo"])
REPO_STATUS = Gauge("billdb_pgbackrest_repo_status", "pgBackRest's status code of the "
                    "repository (0 ok)", ["repo"])
DROPPED = Counter("billdb_wal_archive_dropped", "WAL files pgBackRest dropped at "
                  "archive-push-queue-max")
GAP = Gauge("billdb_wal_archive_gap", "1 when WAL was dropped after the repository's newest "
            "full backup: its backups cannot recover across the gap", ["repo"])
CERT = Gauge("billdb_cert_expiry_seconds", "seconds until the certificate expires", ["cert"])


class LogCounter:
    """Follows every member's pg_log directory; counts matching lines of new text."""

    def __init__(self, ctx: Context) -> None:
        self.dirs = {m.name: ctx.layout.member(m.name).pg_log_dir for m in ctx.members}
        self.offsets: dict[Path, int] = {}
        for member, d in self.dirs.items():
            for reason in REASONS:
                FAILED.labels(member, reason)
            for f in self._files(d):
                self.offsets[f] = f.stat().st_size  # history is not counted

    @staticmethod
    def _files(d: Path) -> list[Path]:
        try:
            return sorted(d.glob("*.log"))
        except OSError:
            return []

    def poll(self) -> None:
        for member, d in self.dirs.items():
            for f in self._files(d):
                size = f.stat().st_size
                start = self.offsets.get(f, 0)
                if size < start:  # truncated (the weekday's file reused)
                    start = 0
                if size == start:
                    continue
                with f.open("rb") as fh:
                    fh.seek(start)
                    chunk = fh.read(size - start)
                end = chunk.rfind(b"\n") + 1  # a partial last line waits for the next poll
                self.offsets[f] = start + end
                for line in chunk[:end].decode(errors="replace").splitlines():
                    for reason, rx in REASONS.items():
                        if rx.search(line):
                            FAILED.labels(member, reason).inc()
                            break


class Prober:
    """One connection per route, kept open; the statement is timed on its own."""

    def __init__(self, ctx: Context) -> None:
        plan = ctx.plan
        app = next(iter(plan.roles.login))
        self.dsn = {"write": connections.dsn(ctx, app, "write"),
                    "read": connections.dsn(ctx, plan.read_replica.read_user, "read")}
        self.conns: dict[str, psycopg.Connection | None] = {"write": None, "read": None}
        self.sql = client_sql.load("customer_get")  # the service's own statement
        self.n = 0

    def poll(self) -> None:
        self.n += 1
        for route in self.conns:
            try:
                conn = self.conns[route]
                if conn is None or conn.closed:
                    conn = self.conns[route] = postgres.attempt(self.dsn[route])
                t0 = time.perf_counter()
                conn.execute(self.sql, {"line_number": f"010-0000-{self.n % 10000:04d}"})
                PROBE.labels(route).observe(time.perf_counter() - t0)
            except psycopg.Error as exc:
                PROBE_ERRORS.labels(route).inc()
                log.debug("probe %s: %s", route, exc)
                self.conns[route] = None


def pgbouncer_stats(ctx: Context) -> None:
    with pooler.console_connect(ctx) as conn:
        for r in pooler.show(conn, "SHOW POOLS"):
            labels = (r["database"], r["user"])
            WAITING.labels(*labels).set(r["cl_waiting"])
            ACTIVE.labels(*labels).set(r["cl_active"])
            MAXWAIT.labels(*labels).set(r["maxwait"] + r.get("maxwait_us", 0) / 1e6)
        for r in pooler.show(conn, "SHOW STATS"):
            XACTS.labels(r["database"]).set(r["total_xact_count"])


class RepoWatcher:
    """One thread per repository runs `pgbackrest info --repo=N` in a loop and keeps the last
    answer: an unreachable repository takes a minute to fail and must not delay the rest.
    The newest WAL last seen stays known while the repository is away."""

    def __init__(self, ctx: Context, every: float) -> None:
        self.ctx, self.every = ctx, every
        self.max_wal: dict[int, str | None] = {r: None for r in backup_common.REPOS}
        for repo in backup_common.REPOS:
            REPO_LAG.labels(f"repo{repo}").set(0)
            GAP.labels(f"repo{repo}").set(0)
            threading.Thread(target=self._loop, args=(repo,), daemon=True).start()

    def _loop(self, repo: int) -> None:
        while True:
            _guard(f"repo{repo}", self.poll, repo)
            time.sleep(self.every)

    def poll(self, repo: int) -> None:
        ra = archive_state.repo_archive(self.ctx, repo)
        REPO_STATUS.labels(ra.label).set(ra.status_code)
        if ra.max_wal:
            self.max_wal[repo] = ra.max_wal

    def lag(self, pg_wal: Path, current_wal: str) -> None:
        now = time.time()
        for repo, max_wal in self.max_wal.items():
            REPO_LAG.labels(f"repo{repo}").set(
                archive_state.oldest_missing_age(pg_wal, max_wal, current_wal, now))


class DropCounter:
    """pgBackRest's 'dropped WAL file' warnings in its archive-push logs (new lines only)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.offsets = {f: f.stat().st_size for f in archive_state.drop_log_files(ctx)}
        DROPPED.inc(0)

    def poll(self) -> None:
        for f in archive_state.drop_log_files(self.ctx):
            size, start = f.stat().st_size, self.offsets.get(f, 0)
            start = 0 if size < start else start
            with f.open("rb") as fh:
                fh.seek(start)
                chunk = fh.read(size - start)
            end = chunk.rfind(b"\n") + 1
            self.offsets[f] = start + end
            DROPPED.inc(len(archive_state.parse_drops(chunk[:end].decode(errors="replace"))))


class Archiver:
    """pg_stat_archiver on the primary over one kept connection (a new one every poll would
    fill the server log with connection lines); reconnects when the leader moves."""

    def __init__(self, ctx: Context, repos: RepoWatcher | None = None) -> None:
        self.ctx = ctx
        self.repos = repos
        self.conn: psycopg.Connection | None = None
        self.member = ""

    def poll(self) -> None:
        lead = cluster.leader(self.ctx)
        if self.conn is None or self.conn.closed or self.member != lead.name:
            if self.conn is not None:
                self.conn.close()
            self.conn, self.member = cluster.admin_connect(self.ctx, lead), lead.name
        try:
            row = self.conn.execute(sqlfiles.load("backup/archiver")).fetchone()
        except psycopg.Error:
            self.conn.close()
            raise
        archiver_metrics(self.ctx, lead.name, row)
        if self.repos is not None:
            self.repos.lag(self.ctx.layout.member(lead.name).data / "pg_wal", row[7])


def archiver_metrics(ctx: Context, leader: str, row: tuple) -> None:
    _count, _wal, last_time, _failed, _fwal, _ftime, healthy, _cur, now = row
    ARCH_AGE.set((now - last_time).total_seconds() if last_time else 0)
    ARCH_FAILING.set(0 if healthy else 1)
    status = ctx.layout.member(leader).data / "pg_wal" / "archive_status"
    ARCH_READY.set(len(list(status.glob("*.ready"))) if status.is_dir() else 0)


def backups(ctx: Context) -> None:
    from billdb.ops.backup import common, physical

    stanza = common.engine(ctx).stanza_info()
    now = time.time()
    # a repository pgBackRest cannot read has no known age: PgbackrestRepoUnreachable says so
    readable = {r.get("key") for r in stanza.get("repo", [])
                if (r.get("status") or {}).get("code") == 0}
    newest: dict[str, float] = {str(k): 0 for k in readable}
    broken = physical.archive_gaps(ctx, stanza)
    for repo in readable & set(common.REPOS):
        GAP.labels(f"repo{repo}").set(1 if repo in broken else 0)
    for b in physical.backups(stanza):
        if b["repo"] not in readable:
            continue
        stop = b.get("start_epoch") or 0
        newest[str(b["repo"])] = max(newest.get(str(b["repo"]), 0), stop)
    for repo, ts in newest.items():
        # no backup yet: its age counts from the epoch (fires BackupTooOld, as it should)
        BACKUP_AGE.labels(repo).set(now - ts)


def cert(ctx: Context) -> None:
    c = x509.load_pem_x509_certificate(ctx.layout.server_cert.read_bytes())
    CERT.labels("server").set((c.not_valid_after_utc - datetime.now(UTC)).total_seconds())


def _guard(name: str, fn, *args) -> None:
    try:
        fn(*args)
    except Exception as exc:
        log.warning("%s: %s", name, str(exc).splitlines()[0] if str(exc) else exc)


def run(ctx: Context, interval: float = 2.0, slow_every: int = 15) -> None:
    """Serve /metrics and refresh forever (backups every `slow_every` rounds)."""
    mon = ctx.local.monitoring
    assert mon is not None
    start_http_server(mon.exporter_port, addr="127.0.0.1")
    counter, prober = LogCounter(ctx), Prober(ctx)
    arch, drops = Archiver(ctx, RepoWatcher(ctx, EXPORTER_POLL_S)), DropCounter(ctx)
    threading.Thread(target=_slow_loop, args=(ctx, interval * slow_every), daemon=True).start()
    while True:
        t0 = time.monotonic()
        _guard("log", counter.poll)
        _guard("probe", prober.poll)
        _guard("pgbouncer", pgbouncer_stats, ctx)
        _guard("archiver", arch.poll)
        _guard("drops", drops.poll)
        time.sleep(max(0.1, interval - (time.monotonic() - t0)))


def _slow_loop(ctx: Context, every: float) -> None:
    while True:
        _guard("backups", backups, ctx)
        _guard("cert", cert, ctx)
        time.sleep(every)
