"""Database, extensions, parameters and data checksums (§4.1, §5.1, §10.3): the converge
resources of converge/database.py and converge/parameters.py, reported read-only."""

from __future__ import annotations

from collections.abc import Iterator

from billdb.context import Context
from billdb.converge import database as db_resource
from billdb.converge import parameters
from billdb.ops.verify.check import Check
from billdb.state import cluster


def checks(ctx: Context) -> Iterator[Check]:
    plan = ctx.plan
    with cluster.admin_connect(ctx) as conn:
        found = db_resource.observe(conn, plan.database.name)
    yield from db_resource.checks(db_resource.desired(plan), found)
    if found.row:
        with cluster.admin_connect(ctx, dbname=plan.database.name) as conn:
            have = db_resource.observe_extensions(conn)
        yield from db_resource.extension_checks(db_resource.desired_extensions(plan), have)
    yield from parameter_checks(ctx)


def parameter_checks(ctx: Context) -> Iterator[Check]:
    """Each managed parameter on the primary; every other member as one check each."""
    settings = parameters.desired(ctx.plan, ctx.env_name)
    yield from parameters.checks(settings, parameters.observe(ctx, settings),
                                 parameters.local_values(ctx))
