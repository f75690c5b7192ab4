"""The database-level part of the plan on Azure, over TLS to the server's FQDN as the
password administrator: roles, the database's owner and time zone, extensions, privileges
with bill_owner, migrations and seed rows. The same converge resources `billdb up` uses
(billdb.converge.*), on a connection to Azure instead of the local cluster.

Azure has no superuser and no ALTER SYSTEM: the administrator (a member of azure_pg_admin)
creates roles with CREATEROLE, joins bill_owner to act for it, and parameters only ever go
through the ARM API (billdb.azure.parameters).

Where it connects: `<server>.postgres.database.azure.com:5432`, sslmode=verify-full against
the system's CA store. BILLDB_AZURE_PG_HOSTADDR / _PORT / _CA redirect that (tests: a local
PostgreSQL whose certificate names the FQDN), keeping the FQDN as the verified host name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.azure import identity, state
from billdb.azure.target import Target
from billdb.converge import database as db_resource
from billdb.converge import privileges as priv_resource
from billdb.converge import roles as role_resource
from billdb.converge import schema as schema_resource
from billdb.converge.core import Check, diff, require_converged
from billdb.converge.expected_schema import Catalog
from billdb.engines import postgres
from billdb.engines.secrets import SecretStore
from billdb.errors import BilldbError
from billdb.render import roles as role_sql

# Fixed when Azure creates the database (charset/collation through ARM) or not visible to a
# non-superuser: not part of the SQL side.
_ARM_SIDE = ("db.encoding", "db.lc_collate", "db.lc_ctype", "db.data_checksums")


def connect(t: Target, dbname: str = "postgres", autocommit: bool = True,
            user: str | None = None, password: str | None = None) -> psycopg.Connection:
    env = os.environ
    kw: dict[str, Any] = {
        "host": t.fqdn(), "port": int(env.get("BILLDB_AZURE_PG_PORT", "5432")),
        "user": user or t.az.admin_login, "password": password or state.admin_password(),
        "dbname": dbname,
        "sslmode": "verify-full", "sslrootcert": env.get("BILLDB_AZURE_PG_CA", "system"),
        "connect_timeout": 10}
    if env.get("BILLDB_AZURE_PG_HOSTADDR"):
        kw["hostaddr"] = env["BILLDB_AZURE_PG_HOSTADDR"]
    try:
        return postgres.attempt(autocommit=autocommit, **kw)
    except psycopg.OperationalError as exc:
        raise BilldbError(f"cannot connect to {t.fqdn()} as {kw['user']} (TLS, "
                          f"verify-full): {str(exc).strip().splitlines()[-1]}") from None


def secrets() -> SecretStore:
    """The login roles' passwords for Azure: generated once, 0600, beside the admin's."""
    return SecretStore(state.directory() / "role-secrets.json")


def roles(t: Target) -> str:
    plan, store = t.plan, secrets()
    want = role_resource.desired(plan)
    with connect(t) as conn:
        drifts = diff(role_resource.checks(want, role_resource.observe(conn, list(want))))
        notes = role_resource.apply(conn, want, drifts)
        for r in plan.roles.login:
            store.ensure(store.password_key(r))
        reset = [r for r in plan.roles.login if not _logs_in(t, r, store.role_password(r))]
        for r in reset:  # no pg_authid for a non-superuser: proven by logging in instead
            conn.execute(role_sql.set_password(r, store.role_password(r)))
        # No superuser on Azure: the administrator acts for the owner by membership.
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(
            sql.Identifier(plan.roles.owner)))
        require_converged("azure roles", diff(role_resource.checks(
            want, role_resource.observe(conn, list(want)))))
    notes += [f"set passwords of {', '.join(reset)}"] if reset else []
    return "; ".join(notes) or f"{len(want)} roles as planned"


def _logs_in(t: Target, role: str, password: str) -> bool:
    try:
        with connect(t, user=role, password=password):
            return True
    except BilldbError:
        return False


def _db_checks(t: Target, conn: psycopg.Connection) -> list[Check]:
    want = db_resource.desired(t.plan)
    return [c for c in db_resource.checks(want, db_resource.observe(conn, t.plan.database.name))
            if c.id not in _ARM_SIDE]


def database(t: Target) -> str:
    with connect(t) as conn:
        drifts = diff(_db_checks(t, conn))
        if drifts:
            db_resource.apply(conn, t.plan, drifts)
            require_converged("azure database", diff(_db_checks(t, conn)))
    return f"repaired {', '.join(d.id for d in drifts)}" if drifts else "as planned"


def extensions(t: Target) -> str:
    wanted = db_resource.desired_extensions(t.plan)
    with connect(t, t.plan.database.name) as conn:
        drifts = diff(db_resource.extension_checks(wanted, db_resource.observe_extensions(conn)))
        created = db_resource.apply_extensions(conn, drifts)
    return f"created {', '.join(created)}" if created else "present"


def privileges(t: Target) -> str:
    with connect(t, t.plan.database.name, autocommit=False) as conn:
        drifts, notes = priv_resource.converge(conn, t.plan, "azure privileges")
    return "; ".join(notes) if drifts else "least privilege as planned"


def migrations(t: Target) -> str:
    migs = sqlfiles.migrations()
    want = schema_resource.desired(migs, Catalog({}, []))
    with connect(t, t.plan.database.name, autocommit=False) as conn:
        done = schema_resource.apply_pending(conn, t.plan.roles.owner, migs, want)
        conn.commit()
    return f"applied {', '.join(done)}" if done else f"{len(migs)} migrations, none pending"


def wanted() -> bool:
    """`azure apply --no-database` / BILLDB_AZURE_SQL=off leave the SQL part out (the
    contract double without a PostgreSQL behind the FQDN)."""
    return os.environ.get("BILLDB_AZURE_SQL", "on") != "off"


def _principal(t: Target) -> str:
    return identity.principal(t, connect)


STEPS: list[tuple[str, Callable[[Target], str]]] = [
    ("sql.roles", roles), ("sql.database", database), ("sql.extensions", extensions),
    ("sql.migrations", migrations), ("sql.privileges", privileges),
    ("sql.entra_principal", _principal)]


def checks(t: Target) -> list[dict[str, Any]]:
    """verify's database part: the same checks as local verify for these resources."""
    out: list[Check] = []
    with connect(t) as conn:
        want = role_resource.desired(t.plan)
        out += role_resource.checks(want, role_resource.observe(conn, list(want)))
        out += _db_checks(t, conn)
    with connect(t, t.plan.database.name, autocommit=False) as conn:
        out += db_resource.extension_checks(db_resource.desired_extensions(t.plan),
                                            db_resource.observe_extensions(conn))
        out += priv_resource.checks(priv_resource.desired(t.plan),
                                    priv_resource.observe(conn, t.plan))
        want_s = schema_resource.desired(sqlfiles.migrations(), Catalog({}, []))
        out += schema_resource.checks(want_s, schema_resource.observe(conn))[:2]
        conn.rollback()
    return [c.as_dict() for c in out]
