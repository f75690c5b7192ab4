"""Roles, memberships and the privilege matrix (§4.2, §10.1): least privilege, proven.
The converge resources converge/roles.py and converge/privileges.py, reported read-only."""

from __future__ import annotations

from collections.abc import Iterator

from billdb.context import Context
from billdb.converge import privileges as priv_resource
from billdb.converge import roles as role_resource
from billdb.ops.verify.check import Check
from billdb.state import cluster


def checks(ctx: Context) -> Iterator[Check]:
    plan = ctx.plan
    want_roles = role_resource.desired(plan)
    with cluster.admin_connect(ctx, dbname=plan.database.name) as conn:
        found_roles = role_resource.observe(conn, list(want_roles))
        found = priv_resource.observe(conn, plan)
    yield from role_resource.checks(want_roles, found_roles)
    yield from priv_resource.checks(priv_resource.desired(plan), found)
