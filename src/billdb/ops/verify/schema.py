"""Tables, indexes, constraints, triggers and seed rows against the migrations (§6).

The expected schema is not written twice: the migrations are replayed in a scratch
schema inside a transaction that is rolled back, and both schemas are compared.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.ops import cluster
from billdb.ops.verify.check import Check, equal

S_SCHEMA = "§6.1 schema"
S_SEED = "§6.2 seed data"


def _objects(conn: psycopg.Connection, schema: str) -> dict[tuple[str, str], str]:
    rows = conn.execute(sqlfiles.load("verify/schema_objects"), {"schema": schema}).fetchall()
    return {(kind, name): definition for kind, name, definition in rows}


def checks(ctx: Context) -> Iterator[Check]:
    migrations = sqlfiles.migrations()
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name, autocommit=False) as conn:
        try:
            applied = conn.execute(sqlfiles.load("verify/migrations")).fetchall()
        except psycopg.errors.UndefinedTable:
            conn.rollback()
            applied = []
        want = [(v, n, hashlib.sha256(t.encode()).hexdigest()) for v, n, t in migrations]
        yield equal("schema.migrations", S_SCHEMA, [f"V{v:03d}__{n}" for v, n, _ in want],
                    [f"V{v:03d}__{n}" for v, n, _ in applied])
        yield Check("schema.migration_checksums", S_SCHEMA, "unchanged since applied",
                    "unchanged since applied" if set(want) >= set(applied) else "edited",
                    set(want) >= set(applied))
        live = _objects(conn, "public")
        live_seed = conn.execute(sqlfiles.load("verify/seed_rows")).fetchall()
        conn.rollback()

        scratch = f"billdb_verify_{secrets.token_hex(4)}"
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(scratch)))
        conn.execute(sql.SQL("SET LOCAL search_path = {}").format(sql.Identifier(scratch)))
        for _, _, text in migrations:
            conn.execute(text)
        expected = _objects(conn, scratch)
        seed = conn.execute(sqlfiles.load("verify/seed_rows")).fetchall()
        conn.rollback()

    for kind, plural in (("table", "tables"), ("column", "columns"), ("index", "indexes"),
                         ("constraint", "constraints"), ("trigger", "triggers"),
                         ("function", "functions")):
        exp = {n: d for (k, n), d in expected.items() if k == kind}
        act = {n: d for (k, n), d in live.items() if k == kind}
        missing = sorted(set(exp) - set(act))
        extra = sorted(set(act) - set(exp))
        differ = sorted(n for n in set(exp) & set(act) if exp[n] != act[n])
        problems = ([f"missing {n}" for n in missing] + [f"unexpected {n}" for n in extra]
                    + [f"differs {n}" for n in differ])
        yield Check(f"schema.{plural}", S_SCHEMA, f"{len(exp)} as in the migrations",
                    "; ".join(problems) or f"{len(act)} as in the migrations", not problems)
    live_rows = {r[0]: r[1:] for r in live_seed}
    for key, value, ctype, active in seed:
        got = live_rows.get(key)
        yield equal(f"seed.{key}", S_SEED, f"{value} ({ctype}, active={active})",
                    f"{got[0]} ({got[1]}, active={got[2]})" if got else "missing")
