"""The client soak of issue 21: the benches that once hung, run again and again, each bounded
by its watchdog. Every run must end on time with 0 stuck users and 0 errors.

- the saturated bench (50 users, think 0, 30 s), 20 times in a row;
- the 1,000-user bench (think 1 s, 30 s), 5 times;
- the pooled run against the direct one (1,000 users, --through-pooler --compare-direct),
  3 times.

"On time" is the wall time of the whole command (seeding, warm-up, window, clean-up) against
its measured window; the watchdog's bound is window + warm-up + grace (10 s).

Usage: .venv/bin/python benchmarks/client_soak.py [--plan PLAN] [--saturated 20] [--peak 5]
       [--pooled 3] [--duration 30]
Prints one JSON document on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BILLDB = str(Path(sys.executable).parent / "billdb")


def one(plan: list[str], args: list[str], window_s: float) -> dict:
    t0 = time.monotonic()
    res = subprocess.run([BILLDB, *plan, "bench", *args, "--json"], capture_output=True,
                         text=True, timeout=window_s + 600)
    wall = time.monotonic() - t0
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        return {"exit": res.returncode, "wall_s": round(wall, 1), "error": res.stderr[-500:]}
    return {"exit": res.returncode, "wall_s": round(wall, 1), "p99_ms": doc.get("p99_ms"),
            "tps": doc.get("tps"), "errors": doc.get("errors"), "stuck": doc.get("stuck"),
            **({"direct_p99_ms": doc["direct"]["p99_ms"]} if "direct" in doc else {})}


def series(name: str, n: int, plan: list[str], args: list[str], window_s: float) -> dict:
    runs = []
    for i in range(n):
        r = one(plan, args, window_s)
        runs.append(r)
        print(f"{name} {i + 1}/{n}: {r}", file=sys.stderr, flush=True)
    ok = [r for r in runs if "p99_ms" in r]
    return {
        "args": " ".join(args), "runs": n, "window_s": window_s,
        "p99_ms": [r["p99_ms"] for r in ok],
        "longest_wall_s": max(r["wall_s"] for r in runs) if runs else None,
        "errors": sum(r.get("errors") or 0 for r in ok) + (len(runs) - len(ok)),
        "stuck": sum(r.get("stuck") or 0 for r in ok),
        "nonzero_exits": sum(r["exit"] != 0 for r in runs),
        "every_run": runs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", help="the environment's plan (default: billdb's own lookup)")
    ap.add_argument("--saturated", type=int, default=20)
    ap.add_argument("--peak", type=int, default=5)
    ap.add_argument("--pooled", type=int, default=3)
    ap.add_argument("--duration", type=int, default=30)
    a = ap.parse_args()
    plan = ["--plan", a.plan] if a.plan else []
    d = str(a.duration)
    report = {
        "saturated": series("saturated", a.saturated, plan,
                            ["--users", "50", "--think-ms", "0", "--duration", d], a.duration),
        "users_1000": series("users_1000", a.peak, plan,
                             ["--users", "1000", "--duration", d], a.duration),
        "pooled_vs_direct": series("pooled_vs_direct", a.pooled, plan,
                                   ["--users", "1000", "--duration", d, "--through-pooler",
                                    "--compare-direct"], 2 * a.duration),
    }
    report["ok"] = all(s["errors"] == 0 and s["stuck"] == 0 and s["nonzero_exits"] == 0
                       for s in report.values() if isinstance(s, dict))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
