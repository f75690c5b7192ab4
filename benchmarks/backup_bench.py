"""Backup goals of issue 4, measured on a separate throw-away environment (purged at the end).

- restore of the Bill-Inquiry database with ~1 GB of generated history data (goal <= 60 s);
- the restore drill on that database (PITR within 1 s of the target, rows_match, amcheck_ok);
- RPO of WAL archiving under a write load (goal <= 15 s): at each sample, the age of the newest
  commit whose WAL is already in the archive;
- a flipped byte in a backup file caught by `billdb backup verify` (exit 1, file named).

Usage: .venv/bin/python benchmarks/backup_bench.py [--port-base 26050] [--gb 1.0]
Prints one JSON document on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import write_plan  # noqa: E402

BILLDB = str(Path(sys.executable).parent / "billdb")
SEG = 16 * 1024 * 1024


def log(msg: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def billdb(plan: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([BILLDB, "--plan", str(plan), *args], capture_output=True, text=True,
                         cwd=ROOT, timeout=3600)
    if check and res.returncode != 0:
        raise SystemExit(f"billdb {' '.join(args)} failed: {res.stderr[-2000:]}")
    return res


def generate(dsn: str, gb: float) -> dict:
    sql = (ROOT / "benchmarks" / "backup_history.sql").read_text()
    t0 = time.monotonic()
    start, batch = 1, 200_000
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = local")
        while True:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            if size >= gb * 1024**3:
                break
            conn.execute(sql, {"start": start, "n": batch})
            start += batch
            log(f"generated {start - 1} rows, database {size / 1024**2:.0f} MB")
        conn.execute("VACUUM ANALYZE bill_inquiry_history")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {"rows": start - 1, "database_bytes": size,
            "generate_s": round(time.monotonic() - t0, 1)}


def _seg_end(walname: str) -> int:
    return int(walname[8:16], 16) * 2**32 + (int(walname[16:24], 16) + 1) * SEG


def rpo_under_load(dsn: str, seconds: float, writers: int = 4) -> dict:
    """Writers commit 2 kB rows as fast as they can; every 0.5 s the sampler takes the newest
    archived segment and finds the newest commit wholly inside the archive."""
    commits: list[tuple[float, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                lsn = conn.execute(
                    "INSERT INTO billdb.rpo_probe (payload) VALUES (repeat(md5(random()::text),"
                    " 64)) RETURNING pg_current_wal_insert_lsn() - '0/0'").fetchone()[0]
                with lock:
                    commits.append((time.time(), int(lsn)))

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS billdb.rpo_probe (id bigserial PRIMARY KEY, "
                     "payload text)")
        threads = [threading.Thread(target=writer, daemon=True) for _ in range(writers)]
        for t in threads:
            t.start()
        samples = []
        t_end = time.monotonic() + seconds
        time.sleep(2)
        while time.monotonic() < t_end:
            wal = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0]
            now = time.time()
            end = _seg_end(wal) if wal and not wal.endswith(".partial") else 0
            with lock:
                inside = [c for c in commits if c[1] <= end]
            if inside:
                samples.append(now - inside[-1][0])
            time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        failed = conn.execute("SELECT failed_count FROM pg_stat_archiver").fetchone()[0]
        conn.execute("DROP TABLE billdb.rpo_probe")
    samples.sort()
    return {"seconds": seconds, "writers": writers, "commits": len(commits),
            "commits_per_s": round(len(commits) / seconds, 1), "samples": len(samples),
            "rpo_median_s": round(samples[len(samples) // 2], 2),
            "rpo_p95_s": round(samples[int(len(samples) * 0.95)], 2),
            "rpo_max_s": round(samples[-1], 2), "archive_failures_total": failed}


def flipped_byte(plan: Path, state: Path) -> dict:
    files = sorted(p for p in (state / "backup/repo1/backup").glob("*/*F/pg_data/base/*/*")
                   if p.is_file() and p.stat().st_size > 4096)
    victim = files[len(files) // 2]
    original = victim.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    try:
        victim.write_bytes(bytes(damaged))
        res = billdb(plan, "backup", "verify", "--json", check=False)
    finally:
        victim.write_bytes(original)
    report = json.loads(res.stdout)
    errors = report["repos"][0]["errors"]
    return {"file": str(victim.relative_to(state)), "exit_code": res.returncode,
            "caught": res.returncode == 1 and any(victim.name in e for e in errors),
            "errors": errors[:2],
            "clean_exit_code_after_repair": billdb(plan, "backup", "verify", "--json",
                                                   check=False).returncode}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-base", type=int, default=26050)
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--rpo-seconds", type=float, default=60)
    ap.add_argument("--keep", action="store_true", help="Do not purge the environment.")
    args = ap.parse_args()
    state = Path(f"/tmp/billdb-bench-{args.port_base}")
    plan = write_plan(Path(f"/tmp/billdb-bench-{args.port_base}.yaml"), state, args.port_base)
    out: dict = {"plan": str(plan), "started": datetime.now(UTC).isoformat()}
    try:
        log("billdb up")
        t0 = time.monotonic()
        billdb(plan, "up")
        out["up_s"] = round(time.monotonic() - t0, 1)
        app = billdb(plan, "dsn", "--role", "admin").stdout.strip()
        log(f"generating {args.gb} GB of history")
        out["data"] = generate(app, args.gb)
        log("full backup into repo1 and repo2")
        out["full_backup"] = json.loads(billdb(plan, "backup", "--type", "full", "--json").stdout)
        log("restore to a time after the backup, beside the cluster")
        with psycopg.connect(app, autocommit=True) as conn:
            rows = conn.execute("SELECT count(*) FROM bill_inquiry_history").fetchone()[0]
            conn.execute("CREATE TABLE billdb.bench_marker AS SELECT clock_timestamp() AS at")
            time.sleep(0.2)
            target = conn.execute("SELECT clock_timestamp()").fetchone()[0].isoformat()
        res = json.loads(billdb(plan, "restore", "--time", target, "--as", "bench",
                                "--json").stdout)
        with psycopg.connect(res["dsn"]) as copy:
            restored = copy.execute("SELECT count(*) FROM bill_inquiry_history").fetchone()[0]
            size = copy.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        billdb(plan, "restore", "drop", "bench")
        out["restore_1gb"] = {k: res[k] for k in ("target_time", "recovered_to", "offset_s",
                                                  "restore_s", "files_s", "wal_switched")}
        out["restore_1gb"].update({"history_rows_source": rows,
                                   "history_rows_restored": restored,
                                   "restored_database_bytes": size})
        log("the same restore from the geo copy (repo2, Azurite)")
        res = json.loads(billdb(plan, "restore", "--time", target, "--as", "bench-geo",
                                "--repo", "2", "--json").stdout)
        billdb(plan, "restore", "drop", "bench-geo")
        out["restore_1gb_geo_repo2"] = {k: res[k] for k in ("recovered_to", "offset_s",
                                                            "restore_s", "files_s")}
        log("restore drill")
        out["drill"] = json.loads(billdb(plan, "drill", "restore", "--json").stdout)
        out["drill"].pop("tables", None)
        log(f"RPO under load for {args.rpo_seconds} s")
        out["rpo"] = rpo_under_load(app, args.rpo_seconds)
        log("flipped byte")
        out["flipped_byte"] = flipped_byte(plan, state)
        out["goals"] = {
            "pitr_within_1s": abs(out["drill"]["offset_s"]) <= 1.0,
            "drill_rows_match_amcheck_ok": out["drill"]["rows_match"]
            and out["drill"]["amcheck_ok"],
            "restore_1gb_le_60s": out["restore_1gb"]["restore_s"] <= 60
            and out["restore_1gb"]["history_rows_restored"] == rows,
            "rpo_le_15s": out["rpo"]["rpo_max_s"] <= 15,
            "flipped_byte_caught": out["flipped_byte"]["caught"],
        }
    finally:
        if not args.keep:
            log("purging the benchmark environment")
            billdb(plan, "down", "--purge", "--yes", check=False)
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
