"""Memberships, ownership and the privilege matrix (§4.2, §10.1, §6.1): least privilege.

desired: from each role's RoleGrants, what it may do on every table, sequence, the schema
         and the database, which roles it is a member of, and its default privileges.
observe: the catalog, through has_*_privilege (so grants to PUBLIC count too).
checks:  role.<r>.member_of, owner.<t>, priv.<r>.<t>, priv.<r>.schema_public,
         priv.<r>.database, priv.<r>.sequences, default_priv.<r>.tables|sequences.
apply:   ALTER ... OWNER for ownership drifts; otherwise render/roles.privilege_statements,
         which revoke what the plan does not grant and grant what it does, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.converge.core import Check, Drift, diff, equal, require_converged
from billdb.plan.models import Plan, RoleGrants
from billdb.render import roles as role_sql

S_ACCESS = "§10.1 access control"
S_OWNER = "§6.1 schema owner"
_ALL_TABLE = ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"]


@dataclass(frozen=True)
class RoleWant:
    member_of: list[str]
    tables: list[str]
    sequences: list[str]
    schema: dict[str, bool]
    database: list[str]
    default_tables: list[str]
    default_sequences: list[str]


@dataclass(frozen=True)
class Desired:
    owner: str
    roles: dict[str, RoleWant]


@dataclass(frozen=True)
class Observed:
    member_of: dict[str, set[str]]
    matrix: list[tuple]      # role, table, privilege, granted, owns
    schema: dict[str, tuple]  # role -> usage, create, connect, db create, temporary
    sequences: list[tuple]   # role, sequence, usage, select, update
    defaults: list[tuple]    # objtype, grantee, privileges
    owners: dict[str, tuple[str, str]]  # relation -> (relkind, owner)


def _role_want(owner: str, g: RoleGrants) -> RoleWant:
    groups = ({owner} if g.member_of_owner else set()) | (
        {"pg_read_all_data"} if g.read_all_data else set())
    tables = sorted(p.upper() for p in g.tables)
    seqs = sorted(p.upper() for p in g.sequences)
    if g.read_all_data:
        tables, seqs = ["SELECT"], ["SELECT"]
    if g.member_of_owner:
        tables, seqs = _ALL_TABLE, ["SELECT", "UPDATE", "USAGE"]
    usage = bool(g.tables or g.sequences or g.read_all_data or g.member_of_owner)
    return RoleWant(sorted(groups), tables, seqs, {"usage": usage, "create": g.member_of_owner},
                    sorted(p.upper() for p in g.database),
                    sorted(p.upper() for p in g.tables), sorted(p.upper() for p in g.sequences))


def desired(plan: Plan) -> Desired:
    owner = plan.roles.owner
    return Desired(owner, {name: _role_want(owner, g) for name, g in plan.roles.all().items()})


def observe(conn: psycopg.Connection, plan: Plan) -> Observed:
    """Read inside the application database."""
    owner, names = plan.roles.owner, list(plan.roles.all())
    every = [owner, *names]
    q = sqlfiles.load
    member_of = {r[0]: set(r[1]) for r in conn.execute(q("verify/memberships"),
                                                       {"names": every})}
    return Observed(
        member_of=member_of,
        matrix=conn.execute(q("verify/table_privileges"), {"names": names}).fetchall(),
        schema={r[0]: r[1:] for r in conn.execute(q("verify/schema_privileges"),
                                                  {"names": names})},
        sequences=conn.execute(q("verify/sequence_privileges"), {"names": names}).fetchall(),
        defaults=conn.execute(q("verify/default_privileges"), {"owner": owner}).fetchall(),
        owners={r[0]: (r[1], r[2]) for r in conn.execute(q("verify/owners"))},
    )


def checks(want: Desired, found: Observed) -> list[Check]:
    out = [equal(f"role.{name}.member_of", S_ACCESS, w.member_of,
                 sorted(found.member_of.get(name, set()))) for name, w in want.roles.items()]
    out += [equal(f"owner.{rel}", S_OWNER, want.owner, owner)
            for rel, (_, owner) in sorted(found.owners.items())]
    out += _matrix_checks(want, found)
    for name, w in want.roles.items():
        usage, create, connect, db_create, temp = found.schema.get(name, (None,) * 5)
        out.append(equal(f"priv.{name}.schema_public", S_ACCESS, w.schema,
                         {"usage": usage, "create": create}))
        out.append(equal(f"priv.{name}.database", S_ACCESS, w.database,
                         sorted(p for p, v in (("CONNECT", connect), ("CREATE", db_create),
                                               ("TEMPORARY", temp)) if v)))
    seq_cells: dict[str, set[str]] = {}
    for role, _seq, usage, select, update in found.sequences:
        got = {p for p, v in (("USAGE", usage), ("SELECT", select), ("UPDATE", update)) if v}
        seq_cells.setdefault(role, set()).update(got)
    out += [equal(f"priv.{name}.sequences", S_ACCESS, w.sequences,
                  sorted(seq_cells.get(name, set()))) for name, w in want.roles.items()]
    got = {(g, t): sorted(p) for t, g, p in found.defaults}
    for name, w in want.roles.items():
        out.append(equal(f"default_priv.{name}.tables", S_ACCESS, w.default_tables,
                         got.get((name, "r"), [])))
        out.append(equal(f"default_priv.{name}.sequences", S_ACCESS, w.default_sequences,
                         got.get((name, "S"), [])))
    return out


def _matrix_checks(want: Desired, found: Observed) -> list[Check]:
    """For each role and table exactly the plan's privileges, and no ownership."""
    cells: dict[tuple[str, str], set[str]] = {}
    owns: dict[tuple[str, str], bool] = {}
    for role, table, priv, granted, is_owner in found.matrix:
        cells.setdefault((role, table), set())
        if granted:
            cells[(role, table)].add(priv)
        owns[(role, table)] = is_owner
    out = []
    for (role, table), privs in sorted(cells.items()):
        w = want.roles[role]
        actual = set(privs)
        if owns[(role, table)] and want.owner not in w.member_of:
            actual.add("OWNER (can ALTER/DROP)")
        out.append(equal(f"priv.{role}.{table}", S_ACCESS, w.tables, sorted(actual)))
    return out


def repairable(drifts: list[Drift], found: Observed) -> list[Drift]:
    """The drifts `apply` can repair now: before the migrations ran there is no sequence to
    grant on, so the sequence checks wait for the default privileges to cover them (pure)."""
    if found.sequences:
        return drifts
    return [d for d in drifts if not (d.id.startswith("priv.") and d.id.endswith(".sequences"))]


def apply(conn: psycopg.Connection, plan: Plan, found: Observed,
          drifts: list[Drift]) -> list[str]:
    """Run inside one transaction of the application database (the caller commits)."""
    notes = []
    owned = [d for d in drifts if d.id.startswith("owner.")]
    for d in owned:
        rel = d.id.removeprefix("owner.")
        kind = "SEQUENCE" if found.owners[rel][0] == "S" else "TABLE"
        conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(
            sql.SQL(kind), sql.Identifier("public", rel), sql.Identifier(plan.roles.owner)))
    if owned:
        notes.append(f"gave {len(owned)} relations back to {plan.roles.owner}")
    if len(owned) < len(drifts):
        for stmt in role_sql.privilege_statements(plan, _direct(conn, plan)):
            conn.execute(stmt)
        notes.append(f"repaired {len(drifts) - len(owned)} privilege checks")
    return notes


def converge(conn: psycopg.Connection, plan: Plan, step: str) -> tuple[list[Drift], list[str]]:
    """One pass on a non-autocommit connection to the application database: observe, and
    when anything drifts repair it and observe again; what is still off and repairable is an
    error naming it. Returns (the drifts found, the repair notes)."""
    want = desired(plan)
    found = observe(conn, plan)
    drifts = diff(checks(want, found))
    conn.commit()
    if not drifts:
        return [], []
    notes = apply(conn, plan, found, drifts)
    conn.commit()
    after = observe(conn, plan)
    require_converged(step, repairable(diff(checks(want, after)), after))
    conn.commit()
    return drifts, notes


def _direct(conn: psycopg.Connection, plan: Plan) -> dict[str, set[str]]:
    """Direct memberships (the checks show effective ones): what REVOKE can take back."""
    rows = conn.execute(sqlfiles.load("provision/direct_memberships"),
                        {"names": list(plan.roles.all())}).fetchall()
    out: dict[str, set[str]] = {}
    for member, group in rows:
        out.setdefault(member, set()).add(group)
    return out
