"""The application database and its extensions (§4.1, §6.1, §10.2).

desired: name, encoding, collation, ctype, timezone, owner (plan.database, plan.roles) and
         data checksums on; the plan's extensions.
observe: pg_database / pg_db_role_setting (sql/verify/database.sql), SHOW data_checksums,
         pg_extension inside the database.
checks:  db.exists, db.encoding, db.lc_collate, db.lc_ctype, db.timezone, db.owner,
         db.data_checksums, extension.<name>.
apply:   CREATE DATABASE, ALTER DATABASE OWNER / SET timezone, CREATE EXTENSION. Encoding,
         collation and checksums are fixed at creation: their drift stops `up` with a message
         instead of being "repaired" by dropping data.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.converge.core import Check, Drift, equal
from billdb.errors import StepError
from billdb.plan.models import Plan
from billdb.render import roles as role_sql

S_DB = "§4.1 database"
_FIXED = ("db.encoding", "db.lc_collate", "db.lc_ctype", "db.data_checksums")


@dataclass(frozen=True)
class Observed:
    row: tuple | None  # datname, encoding, collate, ctype, owner, timezone
    data_checksums: str


def desired(plan: Plan) -> dict[str, str]:
    d = plan.database
    return {"name": d.name, "encoding": d.encoding, "lc_collate": d.lc_collate,
            "lc_ctype": d.lc_ctype, "timezone": d.timezone, "owner": plan.roles.owner,
            "data_checksums": "on"}


def observe(conn: psycopg.Connection, name: str) -> Observed:
    row = conn.execute(sqlfiles.load("verify/database"), {"dbname": name}).fetchone()
    return Observed(row, conn.execute(sqlfiles.load("verify/data_checksums")).fetchone()[0])


def checks(want: dict[str, str], found: Observed) -> list[Check]:
    row = found.row
    out = [Check("db.exists", S_DB, want["name"], row[0] if row else None, row is not None)]
    if row:
        _, encoding, collate, ctype, owner, tz = row
        out += [equal("db.encoding", S_DB, want["encoding"], encoding),
                equal("db.lc_collate", S_DB, want["lc_collate"], collate),
                equal("db.lc_ctype", S_DB, want["lc_ctype"], ctype),
                equal("db.timezone", S_DB, want["timezone"], tz),
                equal("db.owner", "§6.1 schema owner", want["owner"], owner)]
    out.append(equal("db.data_checksums", "§10.2 data integrity", want["data_checksums"],
                     found.data_checksums))
    return out


def apply(conn: psycopg.Connection, plan: Plan, drifts: list[Drift]) -> None:
    fixed = [d for d in drifts if d.id in _FIXED]
    if fixed:
        raise StepError("database", "; ".join(str(d) for d in fixed)
                        + ": fixed when the cluster or database was created; up cannot change it")
    if any(d.id == "db.exists" for d in drifts):
        conn.execute(role_sql.create_database(plan))
    for stmt in role_sql.database_settings(plan):
        conn.execute(stmt)


def desired_extensions(plan: Plan) -> list[str]:
    return list(plan.database.extensions)


def observe_extensions(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute(sqlfiles.load("verify/extensions"))}


def extension_checks(want: list[str], have: set[str]) -> list[Check]:
    return [Check(f"extension.{ext}", S_DB, "installed",
                  "installed" if ext in have else "missing", ext in have) for ext in want]


def apply_extensions(conn: psycopg.Connection, drifts: list[Drift]) -> list[str]:
    created = [d.id.removeprefix("extension.") for d in drifts]
    for ext in created:
        conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(ext)))
    return created
