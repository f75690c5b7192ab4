"""The schema the migrations describe, read from a scratch server, never from a member.

The migrations are replayed once on the throwaway server that `plan lint` uses
(state/scratch.py), in a database with the plan's encoding and locale, and its catalog is read
with the same queries verify runs on the live database (sql/verify/schema_objects.sql,
seed_rows.sql). `up` keeps the result in the state directory, keyed by the migrations'
checksums and the server binaries; `verify` reads that file, or replays on a scratch server
when it is missing or stale, and writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.fsutil import write_atomic
from billdb.state.scratch import scratch_server

CACHE_NAME = "schema-expected.json"
SCRATCH_DB = "billdb_expected"


@dataclass(frozen=True)
class Catalog:
    """A schema description: (kind, name) -> definition, and the seed rows."""

    objects: dict[tuple[str, str], str]
    seed: list[tuple]


def read_catalog(conn: psycopg.Connection, schema: str = "public",
                 with_seed: bool = True) -> Catalog:
    rows = conn.execute(sqlfiles.load("verify/schema_objects"), {"schema": schema}).fetchall()
    seed = conn.execute(sqlfiles.load("verify/seed_rows")).fetchall() if with_seed else []
    return Catalog({(k, n): d for k, n, d in rows}, [tuple(r) for r in seed])


def _major(bin_dir: str, fallback: int) -> int:
    name = Path(bin_dir).parent.name
    return int(name) if name.isdigit() else fallback


def cache_key(migrations: list[tuple[int, str, str]], bin_dir: str) -> str:
    h = hashlib.sha256(bin_dir.encode())
    for version, name, text in migrations:
        h.update(f"\0{version}\0{name}\0".encode() + text.encode())
    return h.hexdigest()


def replay(ctx: Context, migrations: list[tuple[int, str, str]]) -> Catalog:
    """initdb a scratch server, run every migration in a fresh database, read the catalog."""
    plan, local = ctx.plan, ctx.plan.environments.local
    d = plan.database
    major = _major(local.postgres_bin, plan.server.postgres_version)
    with scratch_server(major, local.postgres_bin, [], local.os_user) as server:
        with server.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {} "
                                 "LC_COLLATE {} LC_CTYPE {}").format(
                sql.Identifier(SCRATCH_DB), sql.Literal(d.encoding),
                sql.Literal(d.lc_collate), sql.Literal(d.lc_ctype)))
        with server.connect(SCRATCH_DB) as conn:
            for ext in d.extensions:  # as in the live database; one needing preload is skipped
                with contextlib.suppress(psycopg.Error):
                    conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(ext)))
            conn.execute(sql.SQL("SET TimeZone TO {}").format(sql.Literal(d.timezone)))
            for _, _, text in migrations:
                conn.execute("SET search_path = public")
                conn.execute(text)
            return read_catalog(conn)


def _encode(cat: Catalog, key: str) -> str:
    return json.dumps({"key": key, "objects": [[k, n, v] for (k, n), v in
                                               sorted(cat.objects.items())],
                       "seed": [list(r) for r in cat.seed]}, indent=1) + "\n"


def _decode(text: str, key: str) -> Catalog | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if doc.get("key") != key:
        return None
    return Catalog({(k, n): v for k, n, v in doc["objects"]}, [tuple(r) for r in doc["seed"]])


def expected(ctx: Context, migrations: list[tuple[int, str, str]],
             save: bool = False) -> Catalog:
    """The migrations' schema: from the state directory's copy when it is current, else
    replayed on a scratch server (and kept there only when `save`: `up`, never `verify`)."""
    key = cache_key(migrations, ctx.plan.environments.local.postgres_bin)
    path = ctx.layout.state_dir / CACHE_NAME
    with contextlib.suppress(OSError):
        cat = _decode(path.read_text(encoding="utf-8"), key)
        if cat is not None:
            return cat
    cat = replay(ctx, migrations)
    if save:
        write_atomic(path, _encode(cat, key), 0o644)
    return cat
