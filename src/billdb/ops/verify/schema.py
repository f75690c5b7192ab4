"""Tables, indexes, constraints, triggers and seed rows against the migrations (§6): the
converge resource converge/schema.py, reported read-only. The expected schema comes from
the migrations replayed on a scratch server (converge/expected_schema.py), never from DDL
on a member: verify reads the live catalog and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.converge import expected_schema
from billdb.converge import schema as schema_resource
from billdb.ops.verify.check import Check
from billdb.state import cluster


def checks(ctx: Context) -> Iterator[Check]:
    migrations = sqlfiles.migrations()
    want = schema_resource.desired(migrations, expected_schema.expected(ctx, migrations))
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        found = schema_resource.observe(conn)
    yield from schema_resource.checks(want, found)
