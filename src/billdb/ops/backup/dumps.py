"""Logical backups (§9.1 "weekly logical backup, kept 3 months"): pg_dump custom format.

pg_dump runs as the plan's backup role (the login role with read_all_data) over verified TLS.
The rows of each table are counted inside the same exported snapshot pg_dump reads, so the
manifest beside each dump states exactly what it holds; `dump restore` compares against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.engines import postgres, process
from billdb.errors import BilldbError
from billdb.fsutil import write_atomic
from billdb.internal import SUPERUSER
from billdb.ops.backup import common
from billdb.state import cluster

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def backup_role(ctx: Context) -> str:
    for name, grants in ctx.plan.roles.login.items():
        if grants.read_all_data:
            return name
    raise BilldbError("roles.login has no role with read_all_data: true to run pg_dump as")


def _backup_uri(ctx: Context) -> str:
    zones = [m.port for m in ctx.members if m.kind == "zone"]
    return postgres.uri(ctx.layout, user=backup_role(ctx), dbname=ctx.plan.database.name,
                        ports=zones, target_session_attrs="read-write",
                        extra={"application_name": "billdb dump"})


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(sqlfiles.load("backup/tables"))]
    return {t: conn.execute(sql.SQL("SELECT count(*) FROM public.{}").format(
        sql.Identifier(t))).fetchone()[0] for t in tables}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _bin(ctx: Context, name: str) -> str:
    return str(Path(ctx.local.postgres_bin) / name)


def dump(ctx: Context) -> dict[str, Any]:
    d = common.paths(ctx).dumps_dir
    manifest = dump_into(_backup_uri(ctx), d, ctx.plan.database.name, backup_role(ctx),
                         _bin(ctx, "pg_dump"), ctx.plan.backup.logical.retention_days,
                         "primary (backup role)")
    removed = prune(ctx)
    return {**manifest, "pruned": removed}


def dump_into(uri: str, d: Path, db: str, role: str, pg_dump: str, retention_days: int,
              what: str, password: str | None = None) -> dict[str, Any]:
    """One dump of `db` at `uri` into `d`: pg_dump -Fc inside the snapshot whose row counts
    the manifest beside it states (the local target and `azure dump` alike). A password,
    when given, goes to pg_dump through its environment, never its command line."""
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = datetime.now(UTC)
    path = d / f"{db}-{created.strftime('%Y%m%dT%H%M%SZ')}.dump"
    if path.exists():
        raise BilldbError(f"{path} exists already: one dump per second")
    t0 = time.monotonic()
    extra = {"password": password} if password else {}
    with postgres.connect(uri, autocommit=False, what=what, **extra) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = row_counts(conn)
        tmp = path.with_suffix(".partial")
        write_atomic(tmp, b"", 0o600, only_if_changed=False)  # pg_dump writes into a 0600 file
        try:
            process.run([pg_dump, "--format=custom", f"--snapshot={snapshot}",
                         f"--file={tmp}", f"--dbname={uri}"],
                        step="pg_dump", timeout=6 * 3600,
                        env={"PGPASSWORD": password} if password else None)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        conn.rollback()
    os.replace(tmp, path)
    manifest = {
        "file": str(path), "database": db, "role": role,
        "created_at": created.isoformat(), "size_bytes": path.stat().st_size,
        "sha256": _sha256(path), "row_counts": counts,
        "duration_s": round(time.monotonic() - t0, 2),
        "expires_at": (created + timedelta(days=retention_days)).isoformat(),
    }
    meta = path.with_suffix(".json")
    write_atomic(meta, json.dumps(manifest, indent=2) + "\n", 0o600)
    return manifest


def _manifests(ctx: Context) -> list[dict[str, Any]]:
    d = common.paths(ctx).dumps_dir
    out = []
    for meta in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            doc = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        doc["present"] = Path(doc.get("file", "")).exists()
        out.append(doc)
    return sorted(out, key=lambda m: m.get("created_at", ""))


def listing(ctx: Context) -> dict[str, Any]:
    now = datetime.now(UTC)
    dumps = []
    for m in _manifests(ctx):
        created = datetime.fromisoformat(m["created_at"])
        dumps.append({k: m.get(k) for k in ("file", "created_at", "expires_at", "size_bytes",
                                            "sha256", "row_counts", "present")}
                     | {"age_days": round((now - created).total_seconds() / 86400, 2)})
    return {"retention_days": ctx.plan.backup.logical.retention_days,
            "directory": str(common.paths(ctx).dumps_dir), "dumps": dumps}


def prune(ctx: Context) -> list[str]:
    """Delete dumps past the plan's logical retention; the paths removed."""
    limit = datetime.now(UTC) - timedelta(days=ctx.plan.backup.logical.retention_days)
    removed = []
    d = common.paths(ctx).dumps_dir
    for m in _manifests(ctx):
        if datetime.fromisoformat(m["created_at"]) < limit:
            Path(m["file"]).unlink(missing_ok=True)
            (d / Path(m["file"]).with_suffix(".json").name).unlink(missing_ok=True)
            removed.append(m["file"])
    return removed


def _manifest_for(path: Path) -> dict[str, Any] | None:
    meta = path.with_suffix(".json")
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None

# The comment `dump restore` puts on the database it creates; `dump drop` drops only those.
RESTORED_MARK = "billdb dump restore of"


def restore(ctx: Context, file: Path, into: str) -> dict[str, Any]:
    """pg_restore a dump into a NEW database of the cluster and compare row counts."""
    if not _NAME.match(into):
        raise BilldbError(f"--into {into!r}: a database name is lower-case letters, digits and "
                          "_ (at most 63)")
    if into in (ctx.plan.database.name, "postgres", "template0", "template1"):
        raise BilldbError(f"--into {into}: restore into a new database, not {into}")
    if not file.is_file():
        raise BilldbError(f"{file}: no such dump file (see `billdb dump list`)")
    manifest = _manifest_for(file) or {}
    d = ctx.plan.database
    t0 = time.monotonic()
    with cluster.admin_connect(ctx) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [into]).fetchone():
            raise BilldbError(f"database {into} exists already: choose another name or drop it")
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} "
                             "LC_CTYPE {}").format(sql.Identifier(into), sql.Literal(d.encoding),
                                                   sql.Literal(d.lc_collate),
                                                   sql.Literal(d.lc_ctype)))
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(into), sql.Literal(f"{RESTORED_MARK} {file.name}")))
    uri = postgres.uri(ctx.layout, user=SUPERUSER, dbname=into,
                       ports=[cluster.leader(ctx).port])
    try:
        process.run([_bin(ctx, "pg_restore"), "--exit-on-error", f"--dbname={uri}", str(file)],
                    step="pg_restore", timeout=6 * 3600)
        with postgres.connect(uri, what=f"database {into}") as conn:
            restored = row_counts(conn)
    except BaseException:
        with cluster.admin_connect(ctx) as conn:  # never leave a half-restored database
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(into)))
        raise
    source = manifest.get("row_counts")
    tables = {t: {"dump": (source or {}).get(t), "restored": n} for t, n in restored.items()}
    return {"file": str(file), "into": into, "duration_s": round(time.monotonic() - t0, 2),
            "tables": tables,
            "rows_match": source is not None and source == restored,
            "manifest": bool(manifest)}


def drop(ctx: Context, name: str) -> dict[str, Any]:
    """Drop a database `dump restore` created (marked by its comment); never another one."""
    with cluster.admin_connect(ctx) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = %s", [name]).fetchone()
        if row is None:
            raise BilldbError(f"no database {name!r}")
        if not (row[0] or "").startswith(RESTORED_MARK):
            raise BilldbError(f"database {name} was not made by `billdb dump restore`: "
                              "billdb drops only those")
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    return {"dropped": name, "was": row[0]}
