"""Tables, indexes, constraints, triggers, functions and seed rows against the migrations (§6).

desired: the migrations (version, name, checksum) and the catalog they produce, derived
         once on a scratch server (expected_schema.py): the schema is not written twice.
observe: billdb.schema_migrations and the live catalog of public, read-only.
checks:  schema.migrations, schema.migration_checksums, schema.<tables|columns|indexes|
         constraints|triggers|functions>, seed.<config_key>.
apply:   run the pending migrations, each in its own transaction as the owner role. A drift
         that no pending migration explains (an index dropped by hand) stops `up` by name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.converge.core import Check, equal
from billdb.converge.expected_schema import Catalog, read_catalog
from billdb.errors import StepError

S_SCHEMA = "§6.1 schema"
S_SEED = "§6.2 seed data"
KINDS = (("table", "tables"), ("column", "columns"), ("index", "indexes"),
         ("constraint", "constraints"), ("trigger", "triggers"), ("function", "functions"))
Migration = tuple[int, str, str]  # version, name, checksum (or text, before desired())


@dataclass(frozen=True)
class Desired:
    migrations: list[Migration]
    catalog: Catalog


@dataclass(frozen=True)
class Observed:
    applied: list[Migration]
    catalog: Catalog


def label(version: int, name: str) -> str:
    return f"V{version:03d}__{name}"


def desired(migrations: list[tuple[int, str, str]], catalog: Catalog) -> Desired:
    """`migrations` with their text; `catalog` what replaying them produced."""
    return Desired([(v, n, hashlib.sha256(t.encode()).hexdigest()) for v, n, t in migrations],
                   catalog)


def observe(conn: psycopg.Connection) -> Observed:
    has_migrations, has_seed = conn.execute(sqlfiles.load("verify/schema_present")).fetchone()
    applied = ([tuple(r) for r in conn.execute(sqlfiles.load("verify/migrations"))]
               if has_migrations else [])
    return Observed(applied, read_catalog(conn, "public", with_seed=has_seed))


def checks(want: Desired, found: Observed) -> list[Check]:
    unchanged = set(want.migrations) >= set(found.applied)
    out = [equal("schema.migrations", S_SCHEMA, [label(v, n) for v, n, _ in want.migrations],
                 [label(v, n) for v, n, _ in found.applied]),
           Check("schema.migration_checksums", S_SCHEMA, "unchanged since applied",
                 "unchanged since applied" if unchanged else "edited", unchanged)]
    expected, live = want.catalog.objects, found.catalog.objects
    for kind, plural in KINDS:
        exp = {n: d for (k, n), d in expected.items() if k == kind}
        act = {n: d for (k, n), d in live.items() if k == kind}
        problems = ([f"missing {n}" for n in sorted(set(exp) - set(act))]
                    + [f"unexpected {n}" for n in sorted(set(act) - set(exp))]
                    + [f"differs {n}" for n in sorted(set(exp) & set(act)) if exp[n] != act[n]])
        out.append(Check(f"schema.{plural}", S_SCHEMA, f"{len(exp)} as in the migrations",
                         "; ".join(problems) or f"{len(act)} as in the migrations",
                         not problems))
    live_rows = {r[0]: r[1:] for r in found.catalog.seed}
    for key, value, ctype, active in want.catalog.seed:
        got = live_rows.get(key)
        out.append(equal(f"seed.{key}", S_SEED, f"{value} ({ctype}, {_active(active)})",
                         f"{got[0]} ({got[1]}, {_active(got[2])})" if got else "missing"))
    return out


def pending(want: Desired, found: Observed) -> list[int]:
    """Versions to apply; an applied migration whose text changed is an error (pure)."""
    done = {v: c for v, _, c in found.applied}
    out = []
    for version, name, checksum in want.migrations:
        if version not in done:
            out.append(version)
        elif done[version] != checksum:
            raise StepError("migrations", f"{label(version, name)} changed after it was "
                            "applied: write a new migration instead of editing one")
    return out


def apply_pending(conn: psycopg.Connection, owner: str, migrations: list[tuple[int, str, str]],
                  want: Desired) -> list[str]:
    """Observe which migrations are pending and run them (non-autocommit connection)."""
    found = observe(conn)
    conn.commit()
    versions = pending(want, found)
    return apply(conn, owner, migrations, versions) if versions else []


def apply(conn: psycopg.Connection, owner: str, migrations: list[tuple[int, str, str]],
          versions: list[int]) -> list[str]:
    """Run `versions` in order on a non-autocommit connection to the application database."""
    conn.execute(sqlfiles.load("provision/migrations_table"))
    conn.commit()
    applied = []
    for version, name, text in migrations:
        if version not in versions:
            continue
        checksum = hashlib.sha256(text.encode()).hexdigest()
        conn.execute("SET LOCAL search_path = public")
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner)))
        try:
            conn.execute(text)
        except psycopg.Error as exc:
            conn.rollback()
            raise StepError("migrations", f"{label(version, name)}: {exc}".strip()) from None
        conn.execute("RESET ROLE")
        conn.execute("INSERT INTO billdb.schema_migrations (version, name, checksum) "
                     "VALUES (%s, %s, %s)", [version, name, checksum])
        conn.commit()
        applied.append(f"V{version:03d}")
    return applied


def _active(flag: object) -> str:
    return "active" if flag else "inactive"
