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
from typing import Any

from billdb import sql as sqlfiles
from billdb.client import BillDB, ClientConfig
from billdb.client.crypto import FieldCipher
from billdb.client.repository import BillRepository
from billdb.context import Context
from billdb.errors import BilldbError
from billdb.ops import cluster
from billdb.ops.bench import machine
from billdb.ops.bench.flow import OPERATIONS, PassThroughCipher, line_number, user_id
from billdb.ops.bench.poolerstats import PoolerSampler
from billdb.ops.bench.stats import ms, percentile
from billdb.ops.bench.worker import WorkerArgs
from billdb.ops.bench.worker import main as worker_main

READY_TIMEOUT_S = 120


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
                              "flows_total": 0, "cipher_s": 0.0, "batches": {}, "batched": {}}
    for r in results:
        merged["flows_total"] += r["flows_total"]
        merged["cipher_s"] += r["cipher_s"]
        for key in ("batches", "batched"):
            for name, n in r[key].items():
                merged[key][name] = merged[key].get(name, 0) + n
        for o in OPERATIONS:
            lat[o] += r["latencies"][o]
        merged["flows"] += r["flows"]
        merged["statements"] += r["statements"]
        merged["errors"] += r["errors"]
        merged["error_samples"] += r["error_samples"]
    merged["latencies"] = lat
    return merged


def run(ctx: Context, users: int, duration_s: float, think_ms: float, workers: int = 1,
        through_pooler: bool = False, encrypt: bool = True, keep_data: bool = False,
        pods: int | None = None,
        warmup_s: float | None = None, progress: Callable[[str], None] = lambda m: None
        ) -> dict[str, Any]:
    if users < 1 or duration_s <= 0 or think_ms < 0 or workers < 1:
        raise BilldbError("--users and --workers must be >= 1, --duration > 0, --think-ms >= 0")
    workers = min(workers, users)
    pods = max(pods or workers, workers)
    if pods > users:
        raise BilldbError("--pods cannot exceed --users")
    warmup = warmup_s if warmup_s is not None else min(5.0, max(2.0, think_ms / 1000 * 2))
    n_lines = users
    version = _server_version(ctx)
    progress(f"seeding {n_lines} customers")
    asyncio.run(_seed(ctx, n_lines, through_pooler, encrypt))

    spawn = mp.get_context("spawn")
    q = spawn.Queue()
    start_event = spawn.Event()
    start_epoch = spawn.Value("d", 0.0)
    procs = []
    for w in range(workers):
        args = WorkerArgs(worker=w, plan_path=str(ctx.plan_path.resolve()),
                          secrets_file=str(ctx.layout.secrets_file),
                          users=list(range(w, users, workers)), n_lines=n_lines,
                          think_s=think_ms / 1000, warmup_s=warmup, duration_s=duration_s,
                          through_pooler=through_pooler, encrypt=encrypt, seed=w + 1,
                          pods=len(range(w, pods, workers)))
        p = spawn.Process(target=worker_main, args=(args, q, start_event, start_epoch),
                          daemon=True)
        p.start()
        procs.append(p)
    results: dict[int, dict] = {}
    rusage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        ready = 0
        deadline = time.monotonic() + READY_TIMEOUT_S
        while ready < workers:
            kind, w, payload = q.get(timeout=max(1.0, deadline - time.monotonic()))
            if kind == "failed":
                raise BilldbError(f"bench worker {w} failed: {payload}")
            ready += kind == "ready"
        sampler = PoolerSampler(ctx).start() if through_pooler else None
        start_epoch.value = time.time() + 0.2
        start_event.set()
        progress(f"{users} users, {pods} pods in {workers} process(es), think {think_ms:g} ms, "
                 f"warm-up {warmup:g} s, measuring {duration_s:g} s"
                 f"{' through PgBouncer' if through_pooler else ''}"
                 f"{'' if encrypt else ', encryption OFF'}")
        cpu_before = cpu_after = None
        window_start = time.monotonic() + 0.2 + warmup
        window_end = window_start + duration_s
        ops: dict[int, int] = {}
        errs: dict[int, int] = {}
        last_print = 0.0
        every = 1.0 if duration_s <= 20 else 5.0
        while len(results) < workers:
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
                    f"{min(duration_s, now - window_start):.0f}/{duration_s:g} s"
                progress(f"bench {phase}: {sum(ops.values())} operations, "
                         f"{sum(errs.values())} errors")
            if not any(p.is_alive() for p in procs) and len(results) < workers and q.empty():
                raise BilldbError("bench workers exited without a result")
        cpu_after = cpu_after or machine.cpu_times()
        pooler = sampler.stop() if sampler else None
    finally:
        start_event.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (ru.ru_utime - rusage_before.ru_utime) + (ru.ru_stime - rusage_before.ru_stime)
    merged = _merge(list(results.values()))
    merged["client_cpu_s"] = client_cpu
    if not keep_data:
        progress("removing the benchmark's rows")
        asyncio.run(_cleanup(ctx, users, n_lines, through_pooler))
    doc = report(merged, users, duration_s, workers, pods, through_pooler, encrypt, think_ms,
                 version, machine.busy_pct(cpu_before, cpu_after) if cpu_before else None)
    if pooler is not None:
        doc["pooler"] = pooler  # PgBouncer's SHOW POOLS / SHOW STATS over the run
    return doc


def report(merged: dict[str, Any], users: int, duration_s: float, workers: int, pods: int,
           through_pooler: bool, encrypt: bool, think_ms: float, version: str,
           cpu_busy: float | None) -> dict[str, Any]:
    lat = merged["latencies"]
    every = sorted(v for values in lat.values() for v in values)
    flows = sorted(merged["flows"])
    desc = machine.describe(version)
    desc.update({"cpu_busy_pct_during_run": cpu_busy,
                 "client": {"workers": workers, "pods": pods, "think_ms": think_ms,
                            "through_pooler": through_pooler,
                            "encryption": "aes-256-gcm" if encrypt else "off",
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
                            "error_samples": merged["error_samples"][:5]}})
    return {
        "users": users,
        "duration_s": duration_s,
        "flows": len(flows),
        "tps": round(len(every) / duration_s, 1),
        "p50_ms": ms(percentile(every, 50)),
        "p95_ms": ms(percentile(every, 95)),
        "p99_ms": ms(percentile(every, 99)),
        "errors": merged["errors"],
        "operations": {o: {"count": len(v), "p50_ms": ms(percentile(sorted(v), 50)),
                           "p99_ms": ms(percentile(sorted(v), 99))}
                       for o, v in lat.items()},
        "machine": desc,
    }
