"""PgBouncer as its clients and its console see it: connection strings to the pooler and the
admin console's SHOW commands (as the plan's stats user: PgBouncer's stats_users)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from billdb.context import Context
from billdb.engines import postgres

PROBE_ROLE = "bill_app_user"


@dataclass(frozen=True)
class ConfigRow:
    """One row of SHOW CONFIG: a setting, its value as PgBouncer writes it, and whether a
    reload can change it (`changeable`) or only a restart."""

    key: str
    value: str
    changeable: bool


def conninfo(ctx: Context, dbname: str, user: str = PROBE_ROLE, **extra: str) -> str:
    lay = ctx.layout
    params = {"host": "127.0.0.1", "port": str(ctx.local.pooler_port), "dbname": dbname,
              "user": user, "sslmode": "verify-full", "sslrootcert": str(lay.ca_cert),
              "passfile": str(lay.pgpass), "connect_timeout": "3",
              "application_name": "billdb", **extra}
    return psycopg.conninfo.make_conninfo(**params)


def console_connect(ctx: Context) -> psycopg.Connection:
    """PgBouncer's admin console as the plan's stats user (it speaks the simple query
    protocol only: nothing prepared)."""
    return postgres.attempt(conninfo(ctx, "pgbouncer", user=ctx.plan.read_replica.read_user),
                            prepare_threshold=None)


def show(conn: psycopg.Connection, command: str) -> list[dict[str, Any]]:
    """Rows of a SHOW command on the console, column -> value."""
    cur = conn.execute(command)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def console(ctx: Context, command: str) -> list[dict[str, Any]]:
    """One SHOW command on a connection of its own."""
    with console_connect(ctx) as conn:
        return show(conn, command)


def config(ctx: Context) -> dict[str, ConfigRow]:
    """SHOW CONFIG, setting -> row (psycopg.Error when the console does not answer)."""
    return {r["key"]: ConfigRow(r["key"], r["value"], r["changeable"] == "yes")
            for r in console(ctx, "SHOW CONFIG")}
