"""Connection strings for users: `billdb dsn --role R --route write|read`."""

from __future__ import annotations

from billdb.context import Context
from billdb.engines import postgres
from billdb.errors import ArgumentError, BilldbError
from billdb.internal import ADMIN_ROLE_ALIAS, SUPERUSER


def dsn(ctx: Context, role: str, route: str = "write") -> str:
    """A libpq URI. write: any member, libpq keeps the one that is primary; read: the
    replica first, then the zone members (libpq's `prefer-standby`)."""
    plan = ctx.plan
    if role != ADMIN_ROLE_ALIAS and role not in plan.roles.login:
        allowed = ", ".join([*plan.roles.login, ADMIN_ROLE_ALIAS])
        raise BilldbError(f"--role {role!r} is not a login role of the plan (allowed: {allowed})")
    if route not in ("write", "read"):
        raise ArgumentError(f"--route must be 'write' or 'read', not {route!r}")
    user = SUPERUSER if role == ADMIN_ROLE_ALIAS else role
    dbname = plan.database.name
    zones = [m.port for m in ctx.members if m.kind == "zone"]
    replicas = [m.port for m in ctx.members if m.kind == "replica"]
    if route == "write":
        return postgres.uri(ctx.layout, user=user, dbname=dbname, ports=zones,
                            target_session_attrs="read-write")
    return postgres.uri(ctx.layout, user=user, dbname=dbname, ports=replicas + zones,
                        target_session_attrs="prefer-standby")
