"""`billdb drill restore`: the plan's backup-recovery test (§13 "PITR with integrity check").

Write marker rows, note the time T together with a checksum of every table as of T, keep
writing, damage the data (delete the markers), restore to T beside the cluster, compare the
copy's table checksums with those taken at T, run pg_amcheck on the copy, drop the copy and
remove the drill's rows from the cluster.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.engines import postgres, process
from billdb.errors import BilldbError
from billdb.internal import SUPERUSER
from billdb.ops.backup import restore as restore_op
from billdb.state import cluster

MARKERS = 100
Progress = Callable[[str], None]


def _tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    names = [r[0] for r in conn.execute(sqlfiles.load("backup/tables"))]
    return [("public", n) for n in names] + [("billdb", "restore_drill")]


def checksums(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every service table and the drill's own table."""
    out = {}
    for schema, name in _tables(conn):
        q = sql.SQL(sqlfiles.load("backup/table_checksum")).format(
            table=sql.Identifier(schema, name))
        n, digest = conn.execute(q).fetchone()
        out[f"{schema}.{name}"] = (n, digest)
    return out


def _write_after(conn: psycopg.Connection, run_id: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        conn.execute("INSERT INTO billdb.restore_drill (run_id, phase, payload) "
                     "VALUES (%s, 'after_target', md5(random()::text))", [run_id])
        n += 1
        time.sleep(0.02)
    return n


def amcheck(ctx: Context, port: int) -> tuple[bool, str]:
    """pg_amcheck over every database of the copy (installs amcheck there, never elsewhere)."""
    res = process.run([str(Path(ctx.local.postgres_bin) / "pg_amcheck"), "--all",
                       "--install-missing", "--heapallindexed", "-h", str(ctx.layout.run_dir),
                       "-p", str(port), "-U", SUPERUSER],
                      user=ctx.local.os_user, check=False, timeout=3600)
    text = (res.stdout + res.stderr).strip()
    return res.returncode == 0, text.splitlines()[-1] if text else "no corruption found"


def run(ctx: Context, writes_s: float = 2.0, progress: Progress = lambda m: None) -> dict:
    db = ctx.plan.database.name
    run_id = uuid.uuid4().hex[:12]
    name = f"drill-{run_id[:8]}"
    report: dict[str, Any] = {"run_id": run_id, "copy": name}
    with cluster.admin_connect(ctx, dbname=db) as conn:
        conn.execute(sqlfiles.load("backup/drill_table"))
        conn.execute("INSERT INTO billdb.restore_drill (run_id, phase, payload) "
                     "SELECT %s, 'marker', md5(g::text) FROM generate_series(1, %s) g",
                     [run_id, MARKERS])
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
            at_target = checksums(conn)
        progress(f"{MARKERS} marker rows written; target time {target.isoformat()}")
        report["after_target_rows"] = _write_after(conn, run_id, writes_s)
        deleted = conn.execute("DELETE FROM billdb.restore_drill WHERE run_id = %s AND "
                               "phase = 'marker'", [run_id]).rowcount
        progress(f"damage: deleted the {deleted} marker rows; restoring to T beside the cluster")
    try:
        res = restore_op.restore(ctx, target.isoformat(), name, progress=progress)
        uri = restore_op.copy_uri(ctx, res["port"], db)
        with postgres.connect(uri, what="restored copy") as conn:
            restored = checksums(conn)
            markers = conn.execute("SELECT count(*) FROM billdb.restore_drill WHERE run_id = %s "
                                   "AND phase = 'marker'", [run_id]).fetchone()[0]
        progress("pg_amcheck on the copy …")
        amcheck_ok, amcheck_detail = amcheck(ctx, res["port"])
    finally:
        if restore_op.common.paths(ctx).restore(name).root.exists():
            restore_op.drop(ctx, name)
        with cluster.admin_connect(ctx, dbname=db) as conn:
            conn.execute("DELETE FROM billdb.restore_drill WHERE run_id = %s", [run_id])
    tables = {t: {"rows_at_target": at_target[t][0], "rows_restored": restored.get(t, (None,))[0],
                  "match": restored.get(t) == at_target[t]} for t in at_target}
    rows_match = all(v["match"] for v in tables.values()) and markers == MARKERS
    offset = res["offset_s"]
    report.update({
        "target_time": res["target_time"], "recovered_to": res["recovered_to"],
        "offset_s": offset, "restore_s": res["restore_s"], "wal_switched": res["wal_switched"],
        "rows_match": rows_match, "markers_restored": markers, "amcheck_ok": amcheck_ok,
        "amcheck": amcheck_detail, "tables": tables, "copy_dropped": True,
    })
    if offset is None:
        raise BilldbError("the copy reports no replayed transaction: cannot tell where it landed")
    report["ok"] = bool(rows_match and amcheck_ok and abs(offset) <= 1.0)
    return report
