"""Monthly partitions of the history tables: created ahead, dropped after their retention.

`billdb up` and the scheduler (daily) create the partitions of the current month and the next
PARTITIONS_AHEAD months, so an insert never finds its month missing even if the scheduler is
down for weeks. The retention job reads `*.history.retention.days` from system_config, drops
the partitions entirely older than that, then deletes the few older rows left in the partition
the cutoff falls in (in small batches), so no row outlives its retention.

Both run as the owner role (SET ROLE), so the partitions belong to it and the default
privileges given FOR ROLE the owner apply to them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.errors import BilldbError, StepError
from billdb.ops.scheduler.calendar import Slot
from billdb.ops.scheduler.job import Job
from billdb.state import cluster

PARTITIONS_AHEAD = 3
DELETE_BATCH = 5000
# Partitioned table -> the system_config key of its retention in days (docs/data-model.md).
RETENTION_KEYS = {
    "kos_inquiry_history": "kos.history.retention.days",
    "bill_inquiry_history": "bill.history.retention.days",
}
TABLES = list(RETENTION_KEYS)


@contextmanager
def _as_owner(ctx: Context) -> Iterator[psycopg.Connection]:
    """An autocommit admin connection acting as the schema owner, months in the DB's zone."""
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(ctx.plan.roles.owner)))
        conn.execute("SELECT set_config('TimeZone', %s, false)", [ctx.plan.database.timezone])
        # Creating or dropping a partition locks its parent briefly; never queue behind a long
        # query (and make the service queue behind us): give up and let the next run retry.
        conn.execute("SET lock_timeout = '5s'")
        yield conn


def ensure(ctx: Context, ahead: int = PARTITIONS_AHEAD) -> list[str]:
    """Create missing partitions up to `ahead` months on; the names created."""
    created: list[str] = []
    with _as_owner(ctx) as conn:
        for table in TABLES:
            rows = conn.execute(sqlfiles.load("partitions/ensure"),
                                {"parent": table, "ahead": ahead}).fetchall()
            created += [r[0] for r in rows]
    return created


def ensure_step(ctx: Context) -> tuple[bool, str]:
    """The `partitions` step of `billdb up`."""
    try:
        created = ensure(ctx)
    except psycopg.Error as exc:
        raise StepError("partitions", str(exc).strip().splitlines()[0]) from None
    if created:
        return True, f"created {', '.join(created)}"
    return False, f"current month and {PARTITIONS_AHEAD} ahead present for {', '.join(TABLES)}"


def retention_days(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sqlfiles.load("partitions/retention_days"),
                       {"key": RETENTION_KEYS[table]}).fetchone()
    if row is None:
        raise BilldbError(f"system_config has no active {RETENTION_KEYS[table]}: the retention "
                          f"of {table} is unknown, nothing was dropped")
    return int(row[0])


def _delete_batches(conn: psycopg.Connection, query: sql.Composable | str,
                    cutoff: dt.datetime) -> int:
    total = 0
    while True:
        n = conn.execute(query, {"cutoff": cutoff, "batch": DELETE_BATCH}).rowcount
        total += n
        if n < DELETE_BATCH:
            return total


def apply_retention(ctx: Context, now: dt.datetime | None = None) -> dict[str, Any]:
    """Drop expired partitions and rows of both history tables; what was removed."""
    report: dict[str, Any] = {}
    with _as_owner(ctx) as conn:
        now = now or conn.execute("SELECT now()").fetchone()[0]
        for table in TABLES:  # KOS first: its retention is the shorter one
            days = retention_days(conn, table)
            cutoff = now - dt.timedelta(days=days)
            dropped = [r[0] for r in conn.execute(sqlfiles.load("partitions/drop_before"),
                                                  {"parent": table, "cutoff": cutoff})]
            query = sql.SQL(sqlfiles.load("partitions/delete_expired")).format(
                table=sql.Identifier(table))
            rows = _delete_batches(conn, query, cutoff)
            entry = {"retention_days": days, "cutoff": cutoff.isoformat(),
                     "dropped_partitions": dropped, "deleted_rows": rows}
            if table == "bill_inquiry_history":
                entry["deleted_registry_rows"] = _delete_batches(
                    conn, sqlfiles.load("partitions/delete_expired_registry"), cutoff)
            report[table] = entry
    return report


@dataclass(frozen=True)
class Partition:
    """A row of partitions/list.sql: one monthly partition, its bounds [lower, upper), its owner."""

    parent: str
    partition: str
    lower: dt.datetime
    upper: dt.datetime
    owner: str

    def holds(self, when: dt.datetime) -> bool:
        return self.lower <= when < self.upper


def partitions(ctx: Context) -> list[Partition]:
    """Every history partition, by parent and lower bound."""
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        cur = conn.cursor(row_factory=class_row(Partition))
        return cur.execute(sqlfiles.load("partitions/list"), {"parents": TABLES}).fetchall()


def required_span(ctx: Context) -> tuple[dt.datetime, dt.datetime]:
    """[start of the current month, start of the month after next) in the database's zone."""
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        conn.execute("SELECT set_config('TimeZone', %s, false)", [ctx.plan.database.timezone])
        return conn.execute(sqlfiles.load("partitions/coverage")).fetchone()


def uncovered(parts: list[tuple[dt.datetime, dt.datetime]], start: dt.datetime,
              end: dt.datetime) -> list[str]:
    """The gaps of [start, end) not covered by the (lower, upper) ranges. Pure."""
    gaps, at = [], start
    for lower, upper in sorted(parts):
        if upper <= at:
            continue
        if lower > at:
            gaps.append(f"{at.isoformat()} .. {min(lower, end).isoformat()}")
        at = max(at, upper)
        if at >= end:
            break
    if at < end:
        gaps.append(f"{at.isoformat()} .. {end.isoformat()}")
    return gaps


# --- scheduled jobs --------------------------------------------------------------------

def jobs(ctx: Context) -> list[Job]:
    """The scheduler's partition jobs (listed in billdb.ops.scheduler.jobs.PROVIDERS)."""
    tz = ctx.plan.database.timezone

    def run_ensure(c: Context, slot_time: dt.datetime) -> str:
        created = ensure(c)
        return f"created {', '.join(created)}" if created else "all partitions present"

    def run_retention(c: Context, slot_time: dt.datetime) -> str:
        rep = apply_retention(c)
        return "; ".join(
            f"{t}: dropped {len(r['dropped_partitions'])} partitions, {r['deleted_rows']} rows "
            f"(older than {r['retention_days']} days)" for t, r in rep.items())

    return [
        Job("partitions.create", "create the history tables' monthly partitions "
            f"{PARTITIONS_AHEAD} months ahead", Slot(at="00:10", tz=tz), run_ensure,
            "§6 schema"),
        Job("partitions.retention", "drop history older than *.history.retention.days",
            Slot(at="04:30", tz=tz), run_retention, "§6 schema"),
    ]
