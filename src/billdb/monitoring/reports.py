"""`billdb report ...` (§8.2, §11.2): the plan's report queries corrected for PostgreSQL 15,
run as the administrator on the primary's plan database (sql/reports/*.sql)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.errors import BilldbError
from billdb.internal import MONITOR_USER, SUPERUSER
from billdb.state import cluster

FILES = {"slow-queries": "slow_queries", "database": "database", "tables": "tables",
         "unused-indexes": "unused_indexes", "connections": "connections"}


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


ORDERS = ("total", "mean")
# billdb's own connections: the administrator (reports, verify, status) and the exporters.
OWN_ROLES = [SUPERUSER, MONITOR_USER]


def run(ctx: Context, name: str, limit: int = 20, dbname: str | None = None,
        order: str = "total", include_own: bool = False) -> list[dict[str, Any]]:
    """Rows of one report as dicts (column name -> value); numerics as floats. slow-queries:
    `order` total or mean time; billdb's own statements only with `include_own`."""
    query = sqlfiles.load(f"reports/{FILES[name]}")
    db = dbname or ctx.plan.database.name
    params = {"limit": limit, "order": order, "include_own": include_own,
              "own_roles": OWN_ROLES}
    with cluster.admin_connect(ctx, cluster.leader(ctx), dbname=db) as conn:
        try:
            cur = conn.execute(query, params)
        except psycopg.errors.UndefinedTable as exc:
            raise BilldbError(f"report {name} on {db}: {str(exc).splitlines()[0]} "
                              "(the plan's extensions include pg_stat_statements: "
                              "run `billdb up`)") from None
        cols = [c.name for c in cur.description]
        return [{c: _plain(v) for c, v in zip(cols, row, strict=True)} for row in cur.fetchall()]
