"""`billdb bench`: N users in W worker processes (each one service pod with its own pools),
a warm-up, a measured window, progress on stderr, then the merged figures.

Several processes because one Python process runs on one core: with `--think-ms 0` a single
asyncio loop becomes the bottleneck before the servers do (see the README's figures).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue as queue_mod
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from billdb import sql as sqlfiles
from billdb.client import BillDB, ClientConfig
from billdb.client.crypto import FieldCipher
from billdb.client.repository import BillRepository
from billdb.context import Context
from billdb.errors import ArgumentError, BilldbError
from billdb.ops.bench import machine, schedule
from billdb.ops.bench.flow import OPERATIONS, PassThroughCipher, Recorder, line_number, user_id
from billdb.ops.bench.poolerstats import PoolerSampler
from billdb.ops.bench.stats import ms, percentile
from billdb.ops.bench.worker import WorkerArgs
from billdb.ops.bench.worker import main as worker_main
from billdb.state import cluster

READY_TIMEOUT_S = 120
GRACE_S = 65.0  # after the window: an operation still running then counts as stuck
GRACE_MARGIN_S = 5.0  # past the client's own deadline (grace_for)
TEARDOWN_S = 30.0  # after the grace: a worker that sent no result by then is ended


def _repo(ctx: Context, through_pooler: bool, encrypt: bool) -> tuple[BillDB, BillRepository]:
    db = BillDB(ClientConfig.from_plan(ctx.plan_path, through_pooler=through_pooler,
                                       application_name="billdb-bench"))
    cipher = FieldCipher.from_secrets_file(ctx.layout.secrets_file) if encrypt \
        else PassThroughCipher()
    return db, BillRepository(db, cipher)


async def _seed(ctx: Context, n_lines: int, through_pooler: bool, encrypt: bool) -> None:
    """The benchmark's customers (lines 99…), names sealed like the service's."""
    db, repo = _repo(ctx, through_pooler, encrypt)
    async with db:
        sem = asyncio.Semaphore(db.config.pool_size)

        async def put(i: int) -> None:
            async with sem:
                await repo.put_customer(f"bench-c{i}", line_number(i), f"벤치 고객 {i}", "KT")

        await asyncio.gather(*(put(i) for i in range(n_lines)))


async def _cleanup(ctx: Context, users: int, n_lines: int, through_pooler: bool) -> int:
    """Delete what the benchmark wrote (by its user ids and lines), in short transactions."""
    db, _ = _repo(ctx, through_pooler, True)
    deleted = 0
    async with db:
        for start in range(0, users, 200):
            ids = [user_id(i) for i in range(start, min(users, start + 200))]
            async with db.write() as conn:
                cur = await conn.execute(sqlfiles.load("bench/cleanup_history"),
                                         {"user_ids": ids})
                deleted += cur.rowcount
        for start in range(0, n_lines, 1000):
            lines = [line_number(i) for i in range(start, min(n_lines, start + 1000))]
            async with db.write() as conn:
                await conn.execute(sqlfiles.load("bench/cleanup_cache"), {"lines": lines})
                await conn.execute(sqlfiles.load("bench/cleanup_customers"), {"lines": lines})
    return deleted


def _server_version(ctx: Context) -> str:
    with cluster.admin_connect(ctx) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def _merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    lat: dict[str, list[float]] = {o: [] for o in OPERATIONS}
    merged: dict[str, Any] = {"flows": [], "statements": 0, "errors": 0, "error_samples": [],
                              "flows_total": 0, "cipher_s": 0.0, "batches": {}, "batched": {},
                              "gc_collections": 0, "gc_pause_s": 0.0, "gc_longest_s": 0.0,
                              "by_turn": {}, "stuck": 0, "stuck_ops": {},
                              "stuck_longest_s": 0.0}
    for r in results:
        for key in ("flows_total", "cipher_s", "gc_collections", "gc_pause_s", "statements",
                    "errors", "stuck"):
            merged[key] += r[key]
        merged["gc_longest_s"] = max(merged["gc_longest_s"], r["gc_longest_s"])
        merged["stuck_longest_s"] = max(merged["stuck_longest_s"], r["stuck_longest_s"])
        for op, n in r["stuck_ops"].items():
            merged["stuck_ops"][op] = merged["stuck_ops"].get(op, 0) + n
        for turn, values in r["by_turn"].items():
            merged["by_turn"].setdefault(turn, []).extend(values)
        for key in ("batches", "batched"):
            for name, n in r[key].items():
                merged[key][name] = merged[key].get(name, 0) + n
        for o in OPERATIONS:
            lat[o] += r["latencies"][o]
        merged["flows"] += r["flows"]
        merged["error_samples"] += r["error_samples"]
    merged["latencies"] = lat
    return merged


@dataclass(frozen=True)
class Shape:
    """What one bench run is: how many users in how many processes and pods, how long, how
    fast, which route; with `compare_direct`, through PgBouncer and straight to the servers in
    turns (`schedule`), `duration_s` on each."""

    users: int
    duration_s: float
    think_ms: float
    workers: int
    pods: int
    through_pooler: bool
    encrypt: bool
    warmup_s: float
    compare_direct: bool = False
    grace_s: float = GRACE_S  # the watchdog: users still running this long after the window
    inject_stuck: int = 0  # tests: users that never end (the watchdog must cut them off)

    @property
    def window_s(self) -> float:
        return self.duration_s * (2 if self.compare_direct else 1)

    @property
    def turn_s(self) -> float:
        return schedule.turn_seconds(self.duration_s) if self.compare_direct else 0.0

    @classmethod
    def of(cls, users: int, duration_s: float, think_ms: float, workers: int = 1,
           through_pooler: bool = False, encrypt: bool = True, pods: int | None = None,
           warmup_s: float | None = None, compare_direct: bool = False,
           grace_s: float = GRACE_S, inject_stuck: int = 0) -> Shape:
        if users < 1 or duration_s <= 0 or think_ms < 0 or workers < 1:
            raise ArgumentError("--users and --workers must be >= 1, --duration > 0, "
                                "--think-ms >= 0")
        workers = min(workers, users)
        pods = max(pods or workers, workers)
        if pods > users:
            raise ArgumentError("--pods cannot exceed --users")
        warmup = warmup_s if warmup_s is not None else min(5.0, max(2.0, think_ms / 1000 * 2))
        if compare_direct and warmup_s is None:  # a warm-up turn on each route (schedule)
            warmup = max(warmup, schedule.WARMUP_TURNS * schedule.turn_seconds(duration_s))
        return cls(users, duration_s, think_ms, workers, pods, through_pooler or compare_direct,
                   encrypt, warmup, compare_direct, grace_s, inject_stuck)


@dataclass(frozen=True)
class Measured:
    """A run's raw figures (every latency), before percentiles: runs of one shape and route
    measured apart can be pooled into one (`combine`)."""

    shape: Shape
    merged: dict[str, Any]
    version: str
    cpu_busy: float | None
    pooler: dict[str, Any] | None = None  # PgBouncer's SHOW POOLS / SHOW STATS over the run
    direct: Measured | None = None  # with compare_direct: the direct turns of the same run


def grace_for(ctx: Context, grace_s: float | None) -> float:
    """The watchdog's grace: as given, else the client's call deadline (the plan's connection
    + statement timeout) and a margin: an operation still running then is stuck, not slow."""
    if grace_s is not None:
        return grace_s
    pool = ctx.plan.pool
    return pool.connection_timeout_s + pool.statement_timeout_s + GRACE_MARGIN_S


def run(ctx: Context, users: int, duration_s: float, think_ms: float, workers: int = 1,
        through_pooler: bool = False, encrypt: bool = True, keep_data: bool = False,
        pods: int | None = None,
        warmup_s: float | None = None, progress: Callable[[str], None] = lambda m: None,
        grace_s: float | None = None, inject_stuck: int = 0) -> dict[str, Any]:
    shape = Shape.of(users, duration_s, think_ms, workers=workers,
                     through_pooler=through_pooler, encrypt=encrypt, pods=pods,
                     warmup_s=warmup_s, grace_s=grace_for(ctx, grace_s),
                     inject_stuck=inject_stuck)
    return report(measure(ctx, shape, keep_data, progress))


def measure(ctx: Context, shape: Shape, keep_data: bool = False,
            progress: Callable[[str], None] = lambda m: None) -> Measured:
    """Seed the customers, run the workers, delete what they wrote (unless `keep_data`).
    With `compare_direct` the pooled side, its direct turns in `direct` (the client's CPU
    time on both is the whole run's)."""
    version = _server_version(ctx)
    progress(f"seeding {shape.users} customers")
    asyncio.run(_seed(ctx, shape.users, shape.through_pooler, shape.encrypt))
    sides, cpu_busy, pooler = _run_workers(ctx, shape, progress)
    if not keep_data:
        progress("removing the benchmark's rows")
        asyncio.run(_cleanup(ctx, shape.users, shape.users, shape.through_pooler))
    if not shape.compare_direct:
        return Measured(shape, sides[0], version, cpu_busy, pooler)
    direct = Measured(replace(shape, through_pooler=False), sides[schedule.DIRECT], version,
                      cpu_busy)
    return Measured(shape, sides[schedule.POOLED], version, cpu_busy, pooler, direct)


def _run_workers(ctx: Context, shape: Shape, progress: Callable[[str], None]
                 ) -> tuple[list[dict[str, Any]], float | None, dict[str, Any] | None]:
    """(merged worker results of each side, CPU busy % in the window, PgBouncer's figures)."""
    spawn = mp.get_context("spawn")
    q = spawn.Queue()
    start_event = spawn.Event()
    start_epoch = spawn.Value("d", 0.0)
    procs = []
    for w in range(shape.workers):
        args = WorkerArgs(worker=w, plan_path=str(ctx.plan_path.resolve()),
                          secrets_file=str(ctx.layout.secrets_file),
                          users=list(range(w, shape.users, shape.workers)), n_lines=shape.users,
                          think_s=shape.think_ms / 1000, warmup_s=shape.warmup_s,
                          duration_s=shape.window_s, through_pooler=shape.through_pooler,
                          encrypt=shape.encrypt, seed=w + 1,
                          pods=len(range(w, shape.pods, shape.workers)),
                          compare_direct=shape.compare_direct, turn_s=shape.turn_s,
                          grace_s=shape.grace_s,
                          inject_stuck=shape.inject_stuck if w == 0 else 0)
        p = spawn.Process(target=worker_main, args=(args, q, start_event, start_epoch),
                          daemon=True)
        p.start()
        procs.append(p)
    rusage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        _wait_ready(q, shape.workers)
        sampler = PoolerSampler(ctx).start() if shape.through_pooler else None
        start_epoch.value = time.time() + 0.2
        start_event.set()
        progress(f"{shape.users} users, {shape.pods} pods in {shape.workers} process(es), "
                 f"think {shape.think_ms:g} ms, warm-up {shape.warmup_s:g} s, measuring "
                 f"{_route_text(shape)}{'' if shape.encrypt else ', encryption OFF'}")
        results, cpu_busy = _collect(q, procs, shape, progress)
        pooler = sampler.stop() if sampler else None
    finally:
        start_event.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (ru.ru_utime - rusage_before.ru_utime) + (ru.ru_stime - rusage_before.ru_stime)
    sides = [_merge([r[side] for r in results]) | {"client_cpu_s": cpu_s}
             for side in range(len(results[0]))]
    return sides, cpu_busy, pooler


def _route_text(shape: Shape) -> str:
    if shape.compare_direct:
        return (f"{shape.duration_s:g} s through PgBouncer and {shape.duration_s:g} s straight "
                f"to the servers, in turns of {shape.turn_s:g} s")
    return f"{shape.duration_s:g} s{' through PgBouncer' if shape.through_pooler else ''}"


def _wait_ready(q: Any, workers: int) -> None:
    ready = 0
    deadline = time.monotonic() + READY_TIMEOUT_S
    while ready < workers:
        kind, w, payload = q.get(timeout=max(1.0, deadline - time.monotonic()))
        if kind == "failed":
            raise BilldbError(f"bench worker {w} failed: {payload}")
        ready += kind == "ready"


def _collect(q: Any, procs: list[Any], shape: Shape, progress: Callable[[str], None]
             ) -> tuple[list[list[dict[str, Any]]], float | None]:
    """The workers' results (each a list, one per side), with progress lines and the
    machine's CPU over the window."""
    results: dict[int, list[dict[str, Any]]] = {}
    cpu_before = cpu_after = None
    window_start = time.monotonic() + 0.2 + shape.warmup_s
    window_end = window_start + shape.window_s
    turns = schedule.Turns(window_start, shape.turn_s) if shape.compare_direct else None
    ops: dict[int, int] = {}
    errs: dict[int, int] = {}
    last_print = 0.0
    every = 1.0 if shape.duration_s <= 20 else 5.0
    while len(results) < len(procs):
        try:
            kind, w, payload = q.get(timeout=1.0)
        except queue_mod.Empty:
            kind = None
        now = time.monotonic()
        if cpu_before is None and now >= window_start:
            cpu_before = machine.cpu_times()
        if cpu_after is None and now >= window_end:
            cpu_after = machine.cpu_times()
        if kind == "failed":
            raise BilldbError(f"bench worker {w} failed: {payload}")
        if kind == "progress":
            ops[w], errs[w] = payload["ops"], payload["errors"]
        elif kind == "result":
            results[w] = payload
        if kind != "result" and now - last_print >= every and now < window_end + 1:
            last_print = now
            phase = "warm-up" if now < window_start else \
                f"{min(shape.window_s, now - window_start):.0f}/{shape.window_s:g} s"
            if turns:
                phase += f" ({schedule.ROUTE_NAMES[turns.route(now)]})"
            progress(f"bench {phase}: {sum(ops.values())} operations, "
                     f"{sum(errs.values())} errors")
        if not any(p.is_alive() for p in procs) and len(results) < len(procs) and q.empty():
            raise BilldbError("bench workers exited without a result")
        if now > window_end + shape.grace_s + TEARDOWN_S:
            results |= _end_silent_workers(procs, results, shape, progress)
    cpu_after = cpu_after or machine.cpu_times()
    return list(results.values()), machine.busy_pct(cpu_before, cpu_after) if cpu_before \
        else None


def _end_silent_workers(procs: list[Any], results: dict[int, list[dict[str, Any]]],
                        shape: Shape, progress: Callable[[str], None]
                        ) -> dict[int, list[dict[str, Any]]]:
    """The runner's watchdog, for a worker whose own watchdog could not run (its event loop
    stood still): ended, and every user of it counted as stuck."""
    ended = {}
    sides = 2 if shape.compare_direct else 1
    for w, proc in enumerate(procs):
        if w in results:
            continue
        proc.terminate()
        users = len(range(w, shape.users, shape.workers))
        progress(f"bench worker {w} sent no result {shape.grace_s + TEARDOWN_S:g} s after the "
                 f"window: ended, its {users} users count as stuck")
        recs = [Recorder() for _ in range(sides)]
        recs[-1].stuck = users
        ended[w] = [asdict(r) for r in recs]
    return ended


def report(m: Measured) -> dict[str, Any]:
    shape, merged = m.shape, m.merged
    lat = merged["latencies"]
    every = sorted(v for values in lat.values() for v in values)
    flows = sorted(merged["flows"])
    desc = machine.describe(m.version)
    desc.update({"cpu_busy_pct_during_run": m.cpu_busy,
                 "client": {"workers": shape.workers, "pods": shape.pods,
                            "think_ms": shape.think_ms, "through_pooler": shape.through_pooler,
                            "encryption": "aes-256-gcm" if shape.encrypt else "off",
                            "statements": merged["statements"],
                            "cpu_s": round(merged["client_cpu_s"], 2),
                            "flow_p50_ms": ms(percentile(flows, 50)),
                            "flow_p99_ms": ms(percentile(flows, 99)),
                            "cipher_ms_per_flow": round(1000 * merged["cipher_s"]
                                                        / max(1, merged["flows_total"]), 3),
                            # multiplexing: statements per batch (one round trip, and on the
                            # write pool one commit), over the whole run, warm-up included
                            "statements_per_batch": {
                                name: round(merged["batched"][name] / n, 2)
                                for name, n in sorted(merged["batches"].items()) if n},
                            # the client's own stalls (its event loop stood still), summed
                            # over its processes: not time spent in the database
                            "gc": {"collections": merged["gc_collections"],
                                   "pause_ms": round(1000 * merged["gc_pause_s"], 1),
                                   "longest_ms": round(1000 * merged["gc_longest_s"], 1)},
                            "error_samples": merged["error_samples"][:5]}})
    doc = {
        "users": shape.users,
        "duration_s": shape.duration_s,
        "flows": len(flows),
        "tps": round(len(every) / shape.duration_s, 1),
        "p50_ms": ms(percentile(every, 50)),
        "p95_ms": ms(percentile(every, 95)),
        "p99_ms": ms(percentile(every, 99)),
        "errors": merged["errors"] + merged["stuck"],
        "stuck": merged["stuck"],
        **({"stuck_in": merged["stuck_ops"], "stuck_longest_s": merged["stuck_longest_s"]}
           if merged["stuck"] else {}),
        "operations": {o: {"count": len(v), "p50_ms": ms(percentile(sorted(v), 50)),
                           "p99_ms": ms(percentile(sorted(v), 99))}
                       for o, v in lat.items()},
        "machine": desc,
    }
    if m.pooler is not None:
        doc["pooler"] = m.pooler
    return doc
