"""Roles, memberships and the privilege matrix (§4.2, §10.1): least privilege, proven."""

from __future__ import annotations

from collections.abc import Iterator

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.ops import cluster
from billdb.ops.verify.check import Check, equal

S_ROLES = "§4.2 roles"
S_ACCESS = "§10.1 access control"
_ATTRS = ("superuser", "inherit", "createrole", "createdb", "login", "replication", "bypassrls")


def _expected_attrs(login: bool) -> str:
    flags = {"superuser": False, "inherit": True, "createrole": False, "createdb": False,
             "login": login, "replication": False, "bypassrls": False}
    return " ".join(k if v else f"no{k}" for k, v in flags.items())


def checks(ctx: Context) -> Iterator[Check]:
    plan = ctx.plan
    roles = plan.roles.all()
    names = [plan.roles.owner, *roles]
    with cluster.admin_connect(ctx, dbname=plan.database.name) as conn:
        found = {r[0]: r[1:] for r in conn.execute(sqlfiles.load("verify/roles"),
                                                   {"names": names})}
        member_of = {r[0]: set(r[1]) for r in conn.execute(sqlfiles.load("verify/memberships"),
                                                           {"names": names})}
        matrix = conn.execute(sqlfiles.load("verify/table_privileges"),
                              {"names": list(roles)}).fetchall()
        schema = {r[0]: r[1:] for r in conn.execute(sqlfiles.load("verify/schema_privileges"),
                                                    {"names": list(roles)})}
        seqs = conn.execute(sqlfiles.load("verify/sequence_privileges"),
                            {"names": list(roles)}).fetchall()
        defaults = conn.execute(sqlfiles.load("verify/default_privileges"),
                                {"owner": plan.roles.owner}).fetchall()
        owners = dict(conn.execute(
            "SELECT relname, relowner::regrole::text FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'S') "
            "AND NOT relispartition").fetchall())

    for name in names:
        login = name in plan.roles.login
        row = found.get(name)
        actual = " ".join(k if v else f"no{k}" for k, v in zip(_ATTRS, row, strict=True)) \
            if row else "missing"
        yield equal(f"role.{name}.attributes", S_ROLES, _expected_attrs(login), actual)
    for name, grants in roles.items():
        want = set()
        if grants.member_of_owner:
            want.add(plan.roles.owner)
        if grants.read_all_data:
            want.add("pg_read_all_data")
        yield equal(f"role.{name}.member_of", S_ACCESS, sorted(want),
                    sorted(member_of.get(name, set())))

    for table, owner in sorted(owners.items()):
        yield equal(f"owner.{table}", "§6.1 schema owner", plan.roles.owner, owner)

    # The matrix: for each role and table, exactly the plan's privileges and no ownership.
    per_cell: dict[tuple[str, str], set[str]] = {}
    owns: dict[tuple[str, str], bool] = {}
    for role, table, priv, granted, is_owner in matrix:
        per_cell.setdefault((role, table), set())
        if granted:
            per_cell[(role, table)].add(priv)
        owns[(role, table)] = is_owner
    for (role, table), privs in sorted(per_cell.items()):
        grants = roles[role]
        want = {p.upper() for p in grants.tables}
        if grants.read_all_data:
            want = {"SELECT"}
        if grants.member_of_owner:
            want = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
        actual = set(privs)
        if owns[(role, table)] and not grants.member_of_owner:
            actual.add("OWNER (can ALTER/DROP)")
        yield equal(f"priv.{role}.{table}", S_ACCESS, sorted(want), sorted(actual))

    for role, grants in roles.items():
        usage, create, connect, db_create, temp = schema.get(role, (None,) * 5)
        want_usage = bool(grants.tables or grants.sequences or grants.read_all_data
                          or grants.member_of_owner)
        yield equal(f"priv.{role}.schema_public", S_ACCESS,
                    {"usage": want_usage, "create": grants.member_of_owner},
                    {"usage": usage, "create": create})
        yield equal(f"priv.{role}.database", S_ACCESS,
                    sorted(p.upper() for p in grants.database),
                    sorted(p for p, v in (("CONNECT", connect), ("CREATE", db_create),
                                          ("TEMPORARY", temp)) if v))
    seq_cells: dict[str, set[str]] = {}
    for role, _seq, usage, select, update in seqs:
        got = {p for p, v in (("USAGE", usage), ("SELECT", select), ("UPDATE", update)) if v}
        seq_cells.setdefault(role, set()).update(got)
    for role, grants in roles.items():
        want = {p.upper() for p in grants.sequences}
        if grants.read_all_data:
            want = {"SELECT"}
        if grants.member_of_owner:
            want = {"USAGE", "SELECT", "UPDATE"}
        yield equal(f"priv.{role}.sequences", S_ACCESS, sorted(want),
                    sorted(seq_cells.get(role, set())))

    # Default privileges: tables and sequences created later by the owner get the same grants.
    got: dict[tuple[str, str], list[str]] = {(g, t): sorted(p) for t, g, p in defaults}
    for role, grants in roles.items():
        for objtype, label, wanted in (("r", "tables", grants.tables),
                                       ("S", "sequences", grants.sequences)):
            want = sorted(p.upper() for p in wanted)
            yield equal(f"default_priv.{role}.{label}", S_ACCESS, want,
                        got.get((role, objtype), []))
