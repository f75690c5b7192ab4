"""Monthly partitions of the history tables (§6 schema, docs/data-model.md): the current and the
next month exist, the owner role owns every partition, and none outlived its retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from billdb.context import Context
from billdb.ops import partitions
from billdb.ops.verify.check import Check
from billdb.state import cluster

S_PART = "§6 schema: monthly partitions"


def checks(ctx: Context) -> Iterator[Check]:
    rows = partitions.partitions(ctx)
    start, end = partitions.required_span(ctx)
    owner = ctx.plan.roles.owner
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        days = {t: partitions.retention_days(conn, t) for t in partitions.TABLES}
        now = conn.execute("SELECT now()").fetchone()[0]
    for table in partitions.TABLES:
        mine = [p for p in rows if p.parent == table]
        gaps = partitions.uncovered([(p.lower, p.upper) for p in mine], start, end)
        yield Check(f"partitions.{table}.coverage", S_PART,
                    f"partitions from {start.date()} to {end.date()} (this month and next)",
                    "; ".join(f"missing {g}" for g in gaps) or f"{len(mine)} partitions, "
                    f"{mine[0].partition} .. {mine[-1].partition}", not gaps)
        foreign = [f"{p.partition} ({p.owner})" for p in mine if p.owner != owner]
        yield Check(f"partitions.{table}.owner", S_PART, owner,
                    ", ".join(foreign) or owner, not foreign)
        # The retention job runs daily: a partition may outlive the cutoff by up to a day.
        cutoff = now - dt.timedelta(days=days[table] + 1)
        expired = [p.partition for p in mine if p.upper <= cutoff]
        yield Check(f"partitions.{table}.retention", S_PART,
                    f"none entirely older than {days[table]} days (+1 day: the job is daily)",
                    ", ".join(expired) or f"none older than {cutoff.date()}", not expired)
