"""What the running cluster looks like, as Patroni reports it, and connections to it."""

from __future__ import annotations

from typing import Any

from billdb.context import Context
from billdb.engines import postgres
from billdb.engines.patroni import PatroniAPI
from billdb.errors import BilldbError
from billdb.internal import SUPERUSER
from billdb.plan.models import Member


def patroni_cluster(ctx: Context) -> dict[str, Any] | None:
    """GET /cluster from the first member that answers."""
    for m in ctx.members:
        body = PatroniAPI(m).cluster()
        if body is not None:
            return body
    return None


def leader_name(ctx: Context) -> str | None:
    body = patroni_cluster(ctx)
    for m in (body or {}).get("members", []):
        if m.get("role") in ("leader", "standby_leader") and m.get("state") == "running":
            return m["name"]
    return None


def leader(ctx: Context) -> Member:
    name = leader_name(ctx)
    if name is None:
        raise BilldbError("no running primary: is the environment up? (`billdb up`)")
    return ctx.member(name)


def admin_uri(ctx: Context, member: Member | None = None, dbname: str | None = None) -> str:
    member = member or leader(ctx)
    return postgres.uri(ctx.layout, user=SUPERUSER, dbname=dbname or "postgres",
                        ports=[member.port])


def admin_connect(ctx: Context, member: Member | None = None, dbname: str | None = None,
                  autocommit: bool = True):
    member = member or leader(ctx)
    return postgres.connect(admin_uri(ctx, member, dbname), autocommit=autocommit,
                            what=f"member {member.name} (port {member.port})")
