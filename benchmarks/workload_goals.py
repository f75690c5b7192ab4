"""The workload goals of issue 5, measured on an environment you name (e.g. one made with
tests/conftest.write_plan on your port base), through the `billdb` command line:

- 1,000 users, think time 1 s, 60 s, HA topology with synchronous replication: p99 < 500 ms,
  zero errors;
- the same through PgBouncer, right after the same run straight to the servers (issue 13):
  p99 within 1.5x of the direct one, zero errors;
- saturated (50 users, think 0): bench statements/s >= 70 % of pgbench running the same
  statements with 50 clients, measured in the same run;
- capacity: the largest user count whose p99 stays under 500 ms;
- encryption adds < 10 % to the flow's p50;
- key rotation of the rows the runs leave behind, and the plan's §13.2 pgbench.

Each run waits until the machine's 1-minute load is under --max-load (the machine is shared),
and records the load next to its figures.

Usage: .venv/bin/python benchmarks/workload_goals.py --plan PLAN [--workers 1] [--quick]
Prints one JSON document on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BILLDB = str(Path(sys.executable).parent / "billdb")


def log(msg: str) -> None:
    print(f"[goals {datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def quiet(max_load: float, timeout: float = 1800) -> float:
    """Wait (bounded) for the 1-minute load average to drop under max_load; return it."""
    deadline = time.monotonic() + timeout
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(10)
    return round(os.getloadavg()[0], 2)


def billdb(plan: str, *args: str) -> dict:
    res = subprocess.run([BILLDB, "--plan", plan, *args, "--json"], capture_output=True,
                         text=True, cwd=ROOT, timeout=7200)
    if not res.stdout.strip():
        raise SystemExit(f"billdb {' '.join(args)} failed: {res.stderr.strip()[-500:]}")
    return json.loads(res.stdout)


def run(plan: str, max_load: float, *args: str) -> dict:
    load = quiet(max_load)
    log(f"billdb {' '.join(args)} (load {load})")
    out = billdb(plan, *args)
    out["load_1m_before"], out["load_1m_after"] = load, round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--quick", action="store_true", help="shorter runs (a rough look)")
    a = ap.parse_args()
    d = 20 if a.quick else 60
    w = str(a.workers)
    report: dict = {"plan": a.plan, "workers": a.workers}

    peak = run(a.plan, a.max_load, "bench", "--users", "1000", "--duration", str(d),
               "--workers", w)
    report["users_1000"] = {k: peak[k] for k in ("users", "duration_s", "flows", "tps", "p50_ms",
                                                 "p95_ms", "p99_ms", "errors", "operations",
                                                 "load_1m_before", "load_1m_after")}
    report["machine"] = peak["machine"]
    pooled = run(a.plan, a.max_load, "bench", "--users", "1000", "--duration", str(d),
                 "--workers", w, "--through-pooler", "--compare-direct")
    report["users_1000_through_pooler"] = {k: pooled[k] for k in (
        "tps", "p50_ms", "p95_ms", "p99_ms", "errors", "direct", "p99_ratio_to_direct",
        "median_turn_p99_ratio", "turns", "pooler", "load_1m_before", "load_1m_after")}
    for workers in sorted({"1", w}):
        sat = run(a.plan, a.max_load, "bench", "--users", "50", "--think-ms", "0",
                  "--duration", str(d // 2), "--workers", workers, "--compare-pgbench")
        report[f"saturated_workers_{workers}"] = {k: sat[k] for k in (
            "tps", "p99_ms", "errors", "bench_sps", "pgbench_sps", "ratio", "load_1m_before",
            "load_1m_after")} | {"client_cpu_s": sat["machine"]["client"]["cpu_s"],
                                 "pgbench_client_cpu_s": sat["machine"]["pgbench_client_cpu_s"],
                                 "cpu_busy_pct": sat["machine"]["cpu_busy_pct_during_run"]}
    cap = run(a.plan, a.max_load, "bench", "--capacity", "--users", "250", "--step", "250",
              "--max-users", "3000", "--duration", str(d // 3), "--workers", w)
    report["capacity"] = {k: cap[k] for k in ("capacity_users", "p99_limit_ms", "runs",
                                              "load_1m_before", "load_1m_after")}
    enc = run(a.plan, a.max_load, "bench", "--users", "200", "--duration", str(d // 2),
              "--encryption-overhead")
    report["encryption"] = {k: enc[k] for k in (
        "flow_p50_ms_encrypted", "flow_p50_ms_plain", "encryption_overhead_pct",
        "aes_ms_per_flow", "aes_pct_of_flow_p50", "load_1m_before", "load_1m_after")}
    kept = run(a.plan, a.max_load, "bench", "--users", "200", "--duration", str(d // 2),
               "--keep-data")
    report["rotation_rows_written"] = kept["flows"]
    rot = run(a.plan, a.max_load, "keys", "rotate")
    report["rotation"] = {k: rot[k] for k in ("ok", "new_key", "reencrypted",
                                              "remaining_under_old_keys", "batches", "seconds",
                                              "values_per_s")}
    pg = run(a.plan, a.max_load, "pgbench", "--duration", str(d))
    report["pgbench"] = pg
    report["goals"] = {
        "users_1000_p99_under_500ms_no_errors": peak["p99_ms"] < 500 and peak["errors"] == 0,
        "through_pooler_p99_within_1.5x_of_direct": (pooled["p99_ratio_to_direct"] or 99) <= 1.5
        and pooled["errors"] == 0,
        "saturated_ratio_at_least_0.7": max(report[f"saturated_workers_{x}"]["ratio"] or 0
                                            for x in sorted({"1", w})) >= 0.7,
        "capacity_users": cap["capacity_users"],
        "encryption_under_10pct_of_flow_p50": (enc["aes_pct_of_flow_p50"] or 0) < 10,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
