"""A benchmark worker process: one or more service pods (each its own BillDB and pools)
running their share of the users.

Workers talk to the runner through a queue: "ready" after the pools are open, "progress"
every second, and "result" with the raw latencies of the measured window at the end.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from billdb.client import BillDB, ClientConfig
from billdb.client.crypto import FieldCipher
from billdb.client.repository import BillRepository
from billdb.ops.bench.flow import PassThroughCipher, Recorder, TimedCipher, user_loop


@dataclass(frozen=True)
class WorkerArgs:
    worker: int
    plan_path: str
    secrets_file: str
    users: list[int]  # global user indexes this worker runs
    n_lines: int
    think_s: float
    warmup_s: float
    duration_s: float
    through_pooler: bool
    encrypt: bool
    seed: int
    pods: int = 1  # BillDB instances in this process (the service's pods)


def make_repo(args: WorkerArgs, pod: int, cipher: Any) -> tuple[BillDB, BillRepository]:
    cfg = ClientConfig.from_plan(args.plan_path, through_pooler=args.through_pooler,
                                 application_name=f"billdb-bench-{args.worker}-{pod}")
    cfg = replace(cfg, min_size=cfg.pool_size)  # a pod's pools are full before the clock
    db = BillDB(cfg)
    return db, BillRepository(db, cipher)


class GcPauses:
    """The process's garbage-collection pauses inside the measured window: while the collector
    runs the event loop stands still, so every operation in flight is that much slower (the
    client's stall, not the database's; reported apart)."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._t0 = now
        elif self.rec.inside(self._t0):
            took = now - self._t0
            self.rec.gc_collections += 1
            self.rec.gc_pause_s += took
            self.rec.gc_longest_s = max(self.rec.gc_longest_s, took)


async def _run(args: WorkerArgs, queue: Any, start_event: Any, start_epoch: Any) -> None:
    inner = FieldCipher.from_secrets_file(args.secrets_file) if args.encrypt \
        else PassThroughCipher()
    cipher = TimedCipher(inner)
    pods = [make_repo(args, p, cipher) for p in range(args.pods)]
    try:
        for db, _ in pods:
            await db.open()
        for db, repo in pods:
            await db.wait_ready(60)  # every connection is open before the clock starts
            await repo.active_config()
        # What start-up made (modules, pools, connections) lives as long as the process: out of
        # the collector's way, as a service does after start-up, so that a full collection
        # walks only what the users make (its pauses: about 55 ms -> 20 ms at 1,000 users).
        gc.collect()
        gc.freeze()
        queue.put(("ready", args.worker, None))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, start_event.wait)
        # Wall-clock start shared by all workers, mapped onto this process's monotonic clock.
        offset = time.monotonic() - time.time()
        t_start = start_epoch.value + offset
        rec = Recorder(window=(t_start + args.warmup_s,
                               t_start + args.warmup_s + args.duration_s))
        gc.callbacks.append(GcPauses(rec))
        stop_at = rec.window[1]
        spread = max(args.think_s, 0.5)
        tasks = []
        for n, index in enumerate(args.users):
            delay = spread * n / max(1, len(args.users))  # staggered starts
            pod_repo = pods[n % len(pods)][1]

            async def one(index: int = index, delay: float = delay,
                          repo: BillRepository = pod_repo) -> None:
                await asyncio.sleep(max(0.0, t_start + delay - time.monotonic()))
                await user_loop(repo, rec, index, args.n_lines, args.think_s, stop_at,
                                args.seed * 100003 + index)

            tasks.append(asyncio.create_task(one()))
        gather = asyncio.gather(*tasks)
        while not gather.done():
            await asyncio.wait([gather], timeout=1.0)
            queue.put(("progress", args.worker, {"ops": rec.ops_total,
                                                 "errors": rec.errors_total}))
        await gather
        for _, repo in pods:
            await repo.close()
        rec.cipher_s = cipher.seconds
        for db, _ in pods:
            for name, m in db.multiplexing().items():
                rec.batches[name] = rec.batches.get(name, 0) + m["batches"]
                rec.batched[name] = rec.batched.get(name, 0) + m["statements"]
        queue.put(("result", args.worker, asdict(rec)))
    finally:
        for db, _ in pods:
            await db.close()


def main(args: WorkerArgs, queue: Any, start_event: Any, start_epoch: Any) -> None:
    """Process entry point (multiprocessing, spawn)."""
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        asyncio.run(_run(args, queue, start_event, start_epoch))
    except BaseException as exc:  # report, never hang the runner
        queue.put(("failed", args.worker, f"{type(exc).__name__}: {exc}"))
