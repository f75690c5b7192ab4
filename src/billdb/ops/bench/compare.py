"""`billdb bench` with its comparisons: against pgbench running the same statements, against
itself without column encryption, and through PgBouncer against straight to the servers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.errors import ArgumentError
from billdb.ops.bench import pgbench, runner

SUMMARY = ("tps", "p50_ms", "p95_ms", "p99_ms", "errors")


def bench(ctx: Context, *, users: int, duration_s: float, think_ms: float, workers: int,
          through_pooler: bool, compare_pgbench: bool, encryption_overhead: bool,
          keep_data: bool, progress: Callable[[str], None],
          pods: int | None = None, compare_direct: bool = False) -> dict[str, Any]:
    if compare_direct and not through_pooler:
        raise ArgumentError("--compare-direct compares a run through PgBouncer with a direct "
                            "one: add --through-pooler")
    common = {"users": users, "duration_s": duration_s, "think_ms": think_ms,
              "workers": workers, "through_pooler": through_pooler, "keep_data": keep_data,
              "progress": progress, "pods": pods}
    report = _against_direct(ctx, common) if compare_direct \
        else runner.run(ctx, encrypt=True, **common)
    if encryption_overhead:
        # Two measures: the A/B of the flow's p50 (with and without encryption, run after
        # each other, so it carries the machine's noise), and the time the flow spends in the
        # cipher itself (AES-GCM minus the pass-through's encoding), which has no such noise.
        plain = runner.run(ctx, encrypt=False, **common)
        enc, pla = report["machine"]["client"], plain["machine"]["client"]
        report["flow_p50_ms_encrypted"] = enc["flow_p50_ms"]
        report["flow_p50_ms_plain"] = pla["flow_p50_ms"]
        report["encryption_overhead_pct"] = (
            round(100 * (enc["flow_p50_ms"] - pla["flow_p50_ms"]) / pla["flow_p50_ms"], 1)
            if enc["flow_p50_ms"] and pla["flow_p50_ms"] else None)
        cost = enc["cipher_ms_per_flow"] - pla["cipher_ms_per_flow"]
        report["aes_ms_per_flow"] = round(cost, 3)
        report["aes_pct_of_flow_p50"] = (round(100 * cost / enc["flow_p50_ms"], 2)
                                         if enc["flow_p50_ms"] else None)
        report["errors"] += plain["errors"]
    if compare_pgbench:
        progress(f"pgbench with the same statements: {users} clients for {duration_s:g} s")
        t = ctx.plan.tests.pgbench
        try:
            pg = pgbench.service(ctx, clients=users, jobs=t.jobs, duration_s=int(duration_s),
                                 lines=users)
        finally:
            pgbench.drop_scratch(ctx)
        bench_sps = round(report["machine"]["client"]["statements"] / duration_s, 1)
        report["bench_sps"] = bench_sps
        report["pgbench_sps"] = pg["sps"]
        report["ratio"] = round(bench_sps / pg["sps"], 3) if pg["sps"] else None
        report["machine"]["pgbench_client_cpu_s"] = pg["client_cpu_s"]
    return report


def _against_direct(ctx: Context, common: dict[str, Any]) -> dict[str, Any]:
    """The run through PgBouncer between two halves of the same run straight to the servers,
    back to back: a drift of the shared machine over those minutes weighs on both alike (two
    direct runs one after the other differed by up to 2x in p99 on these cores)."""
    progress, keep = common["progress"], common["keep_data"]
    half = runner.Shape.of(common["users"], common["duration_s"] / 2, common["think_ms"],
                           workers=common["workers"], pods=common["pods"])
    progress("straight to the servers, first half")
    parts = [runner.measure(ctx, half, keep, progress)]
    report = runner.run(ctx, encrypt=True, **common)
    progress("straight to the servers, second half")
    parts.append(runner.measure(ctx, half, keep, progress))
    direct = runner.report(runner.combine(parts))
    report["direct"] = {k: direct[k] for k in SUMMARY} | {
        "p99_ms_halves": [runner.report(p)["p99_ms"] for p in parts]}
    report["p99_ratio_to_direct"] = (round(report["p99_ms"] / direct["p99_ms"], 2)
                                     if report["p99_ms"] and direct["p99_ms"] else None)
    report["errors"] += direct["errors"]
    return report


def capacity(ctx: Context, *, start: int, step: int, max_users: int, duration_s: float,
             think_ms: float, workers: int, through_pooler: bool,
             progress: Callable[[str], None], pods: int | None = None) -> dict[str, Any]:
    """The largest user count whose p99 stays under the plan's response-time alert
    (monitoring.response_time_ms) with no errors: runs start, start+step, … until one fails."""
    limit = ctx.plan.monitoring.response_time_ms
    runs: list[dict[str, Any]] = []
    best = None
    users = start
    report: dict[str, Any] = {}
    while users <= max_users:
        progress(f"capacity: {users} users")
        report = runner.run(ctx, users=users, duration_s=duration_s, think_ms=think_ms,
                            workers=workers, through_pooler=through_pooler, encrypt=True,
                            keep_data=False, progress=lambda m: None, pods=pods)
        holds = report["errors"] == 0 and report["p99_ms"] is not None \
            and report["p99_ms"] < limit
        runs.append({"users": users, "tps": report["tps"], "p50_ms": report["p50_ms"],
                     "p99_ms": report["p99_ms"], "errors": report["errors"],
                     "holds": holds})
        progress(f"capacity: {users} users -> p99 {report['p99_ms']} ms, "
                 f"{report['errors']} errors: {'holds' if holds else 'over the limit'}")
        if not holds:
            break
        best = users
        users += step
    return {"capacity_users": best, "p99_limit_ms": limit, "duration_s": duration_s,
            "think_ms": think_ms, "runs": runs, "errors": 0, "machine": report.get("machine")}
