"""Plan -> the statements that converge roles and privileges (least privilege, repeatable).

Every run revokes what the plan does not grant and grants what it does, so a privilege
added by hand is taken away again. Default privileges are set FOR ROLE the owner: the
seed's `ALTER DEFAULT PRIVILEGES` without FOR ROLE only covers the role that ran it.
"""

from __future__ import annotations

from psycopg import sql

from billdb.plan.models import Plan, RoleGrants
from billdb.scram import verifier

# The one definition of a plan role's attributes: `up` renders it, `verify` expects it.
ROLE_ATTRS = ("superuser", "inherit", "createrole", "createdb", "login", "replication",
              "bypassrls")


def role_attributes(login: bool) -> dict[str, bool]:
    """Least privilege: no role of the plan is a superuser or may create roles, databases
    or replication connections; login roles log in, group roles do not."""
    return {"superuser": False, "inherit": True, "createrole": False, "createdb": False,
            "login": login, "replication": False, "bypassrls": False}


def attribute_text(attrs: dict[str, bool]) -> str:
    """'nosuperuser inherit ...': how verify shows them, and the ALTER ROLE options."""
    return " ".join(k if attrs[k] else f"no{k}" for k in ROLE_ATTRS)


def create_role(name: str, attrs: dict[str, bool]) -> sql.Composed:
    return sql.SQL("CREATE ROLE {} " + attribute_text(attrs).upper()).format(
        sql.Identifier(name))


def alter_role_attributes(name: str, attrs: dict[str, bool]) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} " + attribute_text(attrs).upper()).format(
        sql.Identifier(name))


def set_password(name: str, password: str) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} PASSWORD {}").format(
        sql.Identifier(name), sql.Literal(verifier(password)))


def create_database(plan: Plan) -> sql.Composed:
    d = plan.database
    return sql.SQL(
        "CREATE DATABASE {} WITH OWNER {} ENCODING {} LC_COLLATE {} LC_CTYPE {} TEMPLATE {}"
    ).format(sql.Identifier(d.name), sql.Identifier(plan.roles.owner), sql.Literal(d.encoding),
             sql.Literal(d.lc_collate), sql.Literal(d.lc_ctype), sql.Identifier(d.template))


def database_settings(plan: Plan) -> list[sql.Composed]:
    d = plan.database
    return [
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(d.name), sql.Identifier(plan.roles.owner)),
        sql.SQL("ALTER DATABASE {} SET timezone TO {}").format(
            sql.Identifier(d.name), sql.Literal(d.timezone)),
    ]


def _privs(names: list[str]) -> sql.SQL:
    return sql.SQL(", ".join(n.upper() for n in names))


def _memberships(plan: Plan, name: str, grants: RoleGrants) -> list[sql.Composed]:
    owner = sql.Identifier(plan.roles.owner)
    out = []
    if grants.member_of_owner:
        out.append(sql.SQL("GRANT {} TO {}").format(owner, sql.Identifier(name)))
    elif grants.read_all_data:
        out.append(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(name)))
    return out


def privilege_statements(plan: Plan, existing_members: dict[str, set[str]]) -> list[sql.Composed]:
    """Statements run inside the application database, in one transaction.

    `existing_members` maps role -> roles it is directly a member of, so that memberships
    the plan does not give are revoked (a REVOKE of a non-member only warns, but noise
    in the server log is not free).
    """
    db = sql.Identifier(plan.database.name)
    owner = sql.Identifier(plan.roles.owner)
    out: list[sql.Composed] = [
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db),
        sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"),
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(owner),
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC"),
        sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC"),
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                "REVOKE ALL ON TABLES FROM PUBLIC").format(owner),
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                "REVOKE ALL ON SEQUENCES FROM PUBLIC").format(owner),
    ]
    for name, grants in plan.roles.all().items():
        role = sql.Identifier(name)
        wanted_groups = {plan.roles.owner} if grants.member_of_owner else set()
        if grants.read_all_data:
            wanted_groups.add("pg_read_all_data")
        for group in sorted(existing_members.get(name, set()) - wanted_groups):
            out.append(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), role))
        out += _memberships(plan, name, grants)
        out += [
            sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(db, role),
            sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(role),
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role),
            sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(role),
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                    "REVOKE ALL ON TABLES FROM {}").format(owner, role),
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                    "REVOKE ALL ON SEQUENCES FROM {}").format(owner, role),
        ]
        if grants.database:
            out.append(sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                _privs(grants.database), db, role))
        if grants.tables or grants.sequences:
            out.append(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        if grants.tables:
            out += [
                sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA public TO {}").format(
                    _privs(grants.tables), role),
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                        "GRANT {} ON TABLES TO {}").format(owner, _privs(grants.tables), role),
            ]
        if grants.sequences:
            out += [
                sql.SQL("GRANT {} ON ALL SEQUENCES IN SCHEMA public TO {}").format(
                    _privs(grants.sequences), role),
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                        "GRANT {} ON SEQUENCES TO {}").format(
                            owner, _privs(grants.sequences), role),
            ]
    return out
