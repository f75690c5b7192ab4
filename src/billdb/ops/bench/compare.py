"""`billdb bench` with its comparisons: against pgbench running the same statements, against
itself without column encryption, and through PgBouncer against straight to the servers."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.errors import ArgumentError, BilldbError
from billdb.ops.bench import pgbench, runner, schedule
from billdb.ops.bench.stats import ms, percentile

SUMMARY = ("tps", "p50_ms", "p95_ms", "p99_ms", "errors")


def bench(ctx: Context, *, users: int, duration_s: float, think_ms: float, workers: int,
          through_pooler: bool, compare_pgbench: bool, encryption_overhead: bool,
          keep_data: bool, progress: Callable[[str], None],
          pods: int | None = None, compare_direct: bool = False,
          grace_s: float | None = None, inject_stuck: int = 0) -> dict[str, Any]:
    if compare_direct and not through_pooler:
        raise ArgumentError("--compare-direct compares a run through PgBouncer with a direct "
                            "one: add --through-pooler")
    common = {"users": users, "duration_s": duration_s, "think_ms": think_ms,
              "workers": workers, "through_pooler": through_pooler, "keep_data": keep_data,
              "progress": progress, "pods": pods, "grace_s": grace_s,
              "inject_stuck": inject_stuck}
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
        report["stuck"] += plain["stuck"]
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
    """One run through PgBouncer and straight to the servers in turns of a few seconds
    (`schedule`: direct, pooled, pooled, direct, ...), back to back. Adds the direct route's
    figures, every turn's p99, the ratio of the two routes' p99s, and the ratio of their
    median turn p99s (which one stall in one turn does not move)."""
    shape = runner.Shape.of(common["users"], common["duration_s"], common["think_ms"],
                            workers=common["workers"], pods=common["pods"],
                            compare_direct=True,
                            grace_s=runner.grace_for(ctx, common["grace_s"]),
                            inject_stuck=common["inject_stuck"])
    measured = runner.measure(ctx, shape, common["keep_data"], common["progress"])
    if measured.direct is None:
        raise BilldbError("the bench returned no direct side")
    report = runner.report(measured)
    direct = runner.report(measured.direct)
    report["direct"] = {k: direct[k] for k in SUMMARY}
    turns = _turns(measured.direct.merged["by_turn"] | measured.merged["by_turn"], shape.turn_s)
    medians = {r: statistics.median([t["p99_ms"] for t in turns if t["route"] == r] or [0])
               for r in schedule.ROUTE_NAMES}
    report["turns"] = turns
    report["p99_ratio_to_direct"] = _ratio(report["p99_ms"], direct["p99_ms"])
    report["median_turn_p99_ratio"] = _ratio(medians[schedule.ROUTE_NAMES[schedule.POOLED]],
                                             medians[schedule.ROUTE_NAMES[schedule.DIRECT]])
    report["errors"] += direct["errors"]
    return report


def _ratio(pooled: float | None, direct: float | None) -> float | None:
    return round(pooled / direct, 2) if pooled and direct else None


def _turns(by_turn: dict[int, list[float]], turn_s: float) -> list[dict[str, Any]]:
    """Each turn's route, operations and p99, in order: how much the machine moved."""
    return [{"turn": i, "route": schedule.ROUTE_NAMES[schedule.ORDER[i % len(schedule.ORDER)]],
             "seconds": turn_s, "operations": len(by_turn[i]),
             "p99_ms": ms(percentile(sorted(by_turn[i]), 99))} for i in sorted(by_turn)]


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
