"""Server log volume under the Bill-Inquiry workload (issue 22): bytes per 1,000-user hour, the
part pgaudit writes (lines with `AUDIT:`), and how many hours of it the log cap holds.

Runs `billdb bench --users N --duration S --json` against an environment that is up, reads
what every member's server log grew by meanwhile, and scales: bytes x 3600 / S x 1000 / N.

Usage: .venv/bin/python benchmarks/log_volume.py --plan PLAN [--users 1000] [--duration 60]
Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from billdb.context import load_context
from billdb.render.bounds import disk_bounds

STARTS_RECORD = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
BILLDB = str(Path(sys.executable).parent / "billdb")


@dataclass(frozen=True)
class Volume:
    users: int
    duration_s: int
    bench_tps: float
    bench_errors: int
    log_bytes: int  # every member
    audit_bytes: int  # of which pgaudit's records (with their statement text)
    primary_log_bytes: int
    per_1000_user_hour_bytes: int  # the primary's, which pgaudit writes on
    audit_per_1000_user_hour_bytes: int
    cap_bytes: int
    cap_hours_at_1000_users: float


def offsets(dirs: dict[str, Path]) -> dict[Path, int]:
    return {f: f.stat().st_size for d in dirs.values() for f in d.glob("*.log")}


def audit_bytes(chunk: bytes) -> int:
    """Bytes of pgaudit's records: an `AUDIT:` line and the statement text continuing it on
    the next lines (a record starts with log_line_prefix's timestamp)."""
    total, in_audit = 0, False
    for line in chunk.split(b"\n"):
        if STARTS_RECORD.match(line):
            in_audit = b"AUDIT:" in line
        if in_audit:
            total += len(line) + 1
    return total


def grown(dirs: dict[str, Path], before: dict[Path, int]) -> dict[str, tuple[int, int]]:
    """member -> (bytes written, bytes of AUDIT lines) since `before`."""
    out = {}
    for member, d in dirs.items():
        total = audit = 0
        for f in d.glob("*.log"):
            with f.open("rb") as fh:
                fh.seek(before.get(f, 0))
                chunk = fh.read()
            total += len(chunk)
            audit += audit_bytes(chunk)
        out[member] = (total, audit)
    return out


def measure(plan: str, users: int, duration: int) -> Volume:
    ctx = load_context(plan)
    dirs = {m.name: ctx.layout.member(m.name).pg_log_dir for m in ctx.members}
    before = offsets(dirs)
    res = subprocess.run([BILLDB, "--plan", plan, "bench", "--users", str(users),
                          "--duration", str(duration), "--json"], capture_output=True,
                         text=True, check=False)
    bench = json.loads(res.stdout)
    after = grown(dirs, before)
    from billdb.state import cluster

    primary = after[cluster.leader_name(ctx)]
    scale = 3600 / duration * 1000 / users
    cap = disk_bounds(ctx.plan).log_cap_bytes
    per_hour = int(primary[0] * scale)
    return Volume(users, duration, float(bench.get("tps") or 0), int(bench.get("errors") or 0),
                  sum(t for t, _ in after.values()), sum(a for _, a in after.values()),
                  primary[0], per_hour, int(primary[1] * scale), cap,
                  round(cap / per_hour, 1) if per_hour else float("inf"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", required=True)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=60)
    a = ap.parse_args()
    print(json.dumps(asdict(measure(a.plan, a.users, a.duration)), indent=1))


if __name__ == "__main__":
    main()
