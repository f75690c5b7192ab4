"""§3.3: the service's managed identity (`azure_ad.service_principal`) as a database principal.

On Azure only the Microsoft Entra administrator can make an Entra principal a role:
`pgaadauth_create_principal(name, isAdmin, isMfa)` in the `postgres` database, connected as
the administrator (a member of the Entra admin group, the group's name as the user) with an
Entra access token as the password. So this runs after the ARM `entra_admin` operation and the
roles step; the principal then gets the application role's grants by membership.

What the tests can and cannot exercise: the SQL is rendered and checked in the unit tier; the
contract double has no Entra tenant, no token and no pgaadauth extension, and the test's
PostgreSQL behind the FQDN is not Azure: against them the step says it is skipped and why.
The first real run is against a subscription.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from psycopg import sql

from billdb.azure.target import Target
from billdb.errors import BilldbError
from billdb.plan.models import Plan

ENTRA_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


def app_role(plan: Plan) -> str:
    """The login role the service writes with (DML on the tables)."""
    return next(name for name, r in plan.roles.login.items() if "insert" in (r.tables or []))


def statements(plan: Plan) -> list[sql.Composed]:
    name = plan.azure_ad.service_principal
    return [
        sql.SQL("SELECT pgaadauth_create_principal({n}, false, false) WHERE NOT EXISTS "
                "(SELECT 1 FROM pg_roles WHERE rolname = {n})").format(n=sql.Literal(name)),
        sql.SQL("GRANT {app} TO {who}").format(app=sql.Identifier(app_role(plan)),
                                               who=sql.Identifier(name)),
    ]


def skipped_because() -> str | None:
    """Why the principal cannot be created here, or None on a real subscription."""
    if os.environ.get("BILLDB_AZURE_ENDPOINT"):
        return ("skipped: the contract double has no Microsoft Entra tenant, token or "
                "pgaadauth extension (not Azure)")
    return None


def principal(t: Target, connect: Callable[..., Any]) -> str:
    """`connect(t, user=..., password=...)`: billdb.azure.database.connect."""
    from billdb.azure import sdk

    plan = t.plan
    if not plan.azure_ad.enabled or not plan.azure_ad.service_principal:
        return "as planned (no service principal in the plan)"
    why = skipped_because()
    if why:
        return why
    token = sdk._need("azure.identity").DefaultAzureCredential().get_token(ENTRA_SCOPE).token
    with connect(t, user=plan.azure_ad.admin, password=token) as conn:
        if conn.execute("SELECT to_regproc('pgaadauth_create_principal')").fetchone()[0] is None:
            raise BilldbError(f"{t.fqdn()} has no pgaadauth_create_principal: Microsoft "
                              "Entra authentication is not enabled on the server")
        member = conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s",
            (plan.azure_ad.service_principal, app_role(plan),
             plan.azure_ad.service_principal)).fetchone()
        if member and member[0]:
            return f"{plan.azure_ad.service_principal}: as planned"
        for stmt in statements(plan):
            conn.execute(stmt)
    return f"{plan.azure_ad.service_principal} is a principal with {app_role(plan)}'s grants"
