"""Plan roles and their attributes (§4.2): one definition (render/roles.role_attributes).

desired: every plan role (owner, login roles, group roles) -> its attributes.
observe: pg_roles (sql/verify/roles.sql).
checks:  role.<name>.attributes.
apply:   CREATE ROLE for a missing role, ALTER ROLE for wrong attributes.
Passwords are converged by `up` too (the secrets are passed in, never read here), but verify
proves them by logging in (security.py's auth.<role>.tls_login), not by reading verifiers.
"""

from __future__ import annotations

import psycopg

from billdb import scram
from billdb import sql as sqlfiles
from billdb.converge.core import Check, Drift, equal
from billdb.plan.models import Plan
from billdb.render import roles as role_sql

S_ROLES = "§4.2 roles"
Observed = dict[str, tuple[bool, ...]]


def desired(plan: Plan) -> dict[str, dict[str, bool]]:
    out = {plan.roles.owner: role_sql.role_attributes(False)}
    for name in plan.roles.all():
        out[name] = role_sql.role_attributes(name in plan.roles.login)
    return out


def observe(conn: psycopg.Connection, names: list[str]) -> Observed:
    return {r[0]: tuple(r[1:]) for r in conn.execute(sqlfiles.load("verify/roles"),
                                                     {"names": names})}


def shown(row: tuple[bool, ...] | None) -> str:
    if row is None:
        return "missing"
    return role_sql.attribute_text(dict(zip(role_sql.ROLE_ATTRS, row, strict=True)))


def checks(want: dict[str, dict[str, bool]], found: Observed) -> list[Check]:
    return [equal(f"role.{name}.attributes", S_ROLES, role_sql.attribute_text(attrs),
                  shown(found.get(name))) for name, attrs in want.items()]


def apply(conn: psycopg.Connection, want: dict[str, dict[str, bool]],
          drifts: list[Drift]) -> list[str]:
    notes = []
    for d in drifts:
        name = d.id.removeprefix("role.").removesuffix(".attributes")
        if d.actual == "missing":
            conn.execute(role_sql.create_role(name, want[name]))
            notes.append(f"created {name}")
        else:
            conn.execute(role_sql.alter_role_attributes(name, want[name]))
            notes.append(f"repaired attributes of {name}")
    return notes


def stale_passwords(passwords: dict[str, str], stored: dict[str, str | None]) -> list[str]:
    """Login roles whose stored verifier does not match the secret (pure)."""
    return [name for name, pw in passwords.items()
            if not scram.matches(stored.get(name), pw)]


def converge_passwords(conn: psycopg.Connection, passwords: dict[str, str]) -> list[str]:
    stored = dict(conn.execute(sqlfiles.load("verify/role_passwords"),
                               {"names": list(passwords)}).fetchall())
    reset = stale_passwords(passwords, stored)
    for name in reset:
        conn.execute(role_sql.set_password(name, passwords[name]))
    return reset
