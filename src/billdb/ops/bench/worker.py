"""A benchmark worker process: one or more service pods (each its own BillDB and pools)
running their share of the users.

Workers talk to the runner through a queue: "ready" after the pools are open, "progress"
every second, and "result" with the raw latencies of the measured window at the end, one
record per route (two with `--compare-direct`: each pod then has a BillDB on either route).
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
from billdb.ops.bench.flow import PassThroughCipher, Recorder, Sides, TimedCipher, user_loop
from billdb.ops.bench.schedule import Turns


@dataclass(frozen=True)
class WorkerArgs:
    worker: int
    plan_path: str
    secrets_file: str
    users: list[int]  # global user indexes this worker runs
    n_lines: int
    think_s: float
    warmup_s: float
    duration_s: float  # the measured window (both routes' turns with compare_direct)
    through_pooler: bool
    encrypt: bool
    seed: int
    pods: int = 1  # BillDB instances in this process (the service's pods)
    compare_direct: bool = False  # each pod on both routes, in turns of turn_s (schedule)
    turn_s: float = 0.0
    grace_s: float = 10.0  # after the window, how long users may take to end (watchdog)
    inject_stuck: int = 0  # tests: this many of the worker's users never end (bench --inject-stuck)

    @property
    def routes(self) -> list[bool]:
        """through_pooler of each side, in `schedule`'s order (DIRECT, POOLED)."""
        return [False, True] if self.compare_direct else [self.through_pooler]


def make_repo(args: WorkerArgs, pod: int, cipher: Any, through_pooler: bool
              ) -> tuple[BillDB, BillRepository]:
    cfg = ClientConfig.from_plan(args.plan_path, through_pooler=through_pooler,
                                 application_name=f"billdb-bench-{args.worker}-{pod}")
    cfg = replace(cfg, min_size=cfg.pool_size)  # a pod's pools are full before the clock
    db = BillDB(cfg)
    return db, BillRepository(db, cipher)


class GcPauses:
    """The process's garbage-collection pauses inside the measured window: while the collector
    runs the event loop stands still, so every operation in flight is that much slower (the
    client's stall, not the database's; reported apart)."""

    def __init__(self, recs: list[Recorder], turns: Turns | None) -> None:
        self.recs = recs
        self.turns = turns  # a pause counts on the route whose turn it falls in
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._t0 = now
            return
        rec = self.recs[self.turns.route(self._t0) if self.turns else 0]
        if rec.inside(self._t0):
            took = now - self._t0
            rec.gc_collections += 1
            rec.gc_pause_s += took
            rec.gc_longest_s = max(rec.gc_longest_s, took)


@dataclass
class Pod:
    """One simulated service pod: a BillDB per route, the same cipher's timing per route."""

    dbs: list[BillDB]
    repos: list[BillRepository]


def _pods(args: WorkerArgs) -> tuple[list[Pod], list[TimedCipher]]:
    inner = FieldCipher.from_secrets_file(args.secrets_file) if args.encrypt \
        else PassThroughCipher()
    ciphers = [TimedCipher(inner) for _ in args.routes]
    pods = []
    for p in range(args.pods):
        made = [make_repo(args, p, c, pooled) for c, pooled in zip(ciphers, args.routes,
                                                                   strict=True)]
        pods.append(Pod([db for db, _ in made], [repo for _, repo in made]))
    return pods, ciphers


async def _open(pods: list[Pod]) -> None:
    for pod in pods:
        for db in pod.dbs:
            await db.open()
    for pod in pods:
        for db, repo in zip(pod.dbs, pod.repos, strict=True):
            await db.wait_ready(60)  # every connection is open before the clock starts
            await repo.active_config()
    # What start-up made (modules, pools, connections) lives as long as the process: out of
    # the collector's way, as a service does after start-up, so that a full collection walks
    # only what the users make (its pauses: about 55 ms -> 20 ms at 1,000 users).
    gc.collect()
    gc.freeze()


async def _users(args: WorkerArgs, pods: list[Pod], recs: list[Recorder], turns: Turns | None,
                 t_start: float, queue: Any) -> None:
    """Every user of this worker, staggered over a think time, until the window ends. The
    watchdog: users still running `grace_s` after the window are cancelled and counted as
    stuck."""
    spread = max(args.think_s, 0.5)
    tasks: dict[asyncio.Task[None], Sides] = {}
    for n, index in enumerate(args.users):
        delay = spread * n / max(1, len(args.users))  # staggered starts
        sides = Sides(pods[n % len(pods)].repos, recs, turns)
        stuck = n < args.inject_stuck

        async def one(index: int = index, delay: float = delay, sides: Sides = sides,
                      stuck: bool = stuck) -> None:
            await asyncio.sleep(max(0.0, t_start + delay - time.monotonic()))
            if stuck:  # an injected fault: a user that never ends
                await asyncio.Event().wait()
            await user_loop(sides, index, args.n_lines, args.think_s, recs[0].window[1],
                            args.seed * 100003 + index)

        tasks[asyncio.create_task(one())] = sides
    pending = set(tasks)
    give_up = recs[0].window[1] + args.grace_s
    while pending and time.monotonic() < give_up:
        _, pending = await asyncio.wait(pending, timeout=min(1.0, give_up - time.monotonic()))
        queue.put(("progress", args.worker, {"ops": sum(r.ops_total for r in recs),
                                             "errors": sum(r.errors_total for r in recs)}))
    _cut_off(pending, tasks, recs[-1])
    if pending:
        await asyncio.wait(pending, timeout=5)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception():
            raise task.exception()  # type: ignore[misc]


def _cut_off(pending: set[asyncio.Task[None]], sides: dict[asyncio.Task[None], Sides],
             rec: Recorder) -> None:
    """Cancel the users still running; record how many, in which operation, the longest
    (on the run's main side: the pooled one with compare_direct)."""
    now = time.monotonic()
    for task in pending:
        op, t0 = sides[task].inflight or ("outside an operation", now)
        rec.stuck += 1
        rec.stuck_ops[op] = rec.stuck_ops.get(op, 0) + 1
        rec.stuck_longest_s = max(rec.stuck_longest_s, round(now - t0, 1))
        task.cancel()


async def _run(args: WorkerArgs, queue: Any, start_event: Any, start_epoch: Any) -> None:
    pods, ciphers = _pods(args)
    try:
        await _open(pods)
        queue.put(("ready", args.worker, None))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, start_event.wait)
        # Wall-clock start shared by all workers, mapped onto this process's monotonic clock.
        t_start = start_epoch.value + time.monotonic() - time.time()
        window = (t_start + args.warmup_s, t_start + args.warmup_s + args.duration_s)
        recs = [Recorder(window=window) for _ in args.routes]
        turns = Turns(window[0], args.turn_s) if args.compare_direct else None
        gc.callbacks.append(GcPauses(recs, turns))
        await _users(args, pods, recs, turns, t_start, queue)
        for pod in pods:
            for repo in pod.repos:
                await repo.close()
        for side, (rec, cipher) in enumerate(zip(recs, ciphers, strict=True)):
            rec.cipher_s = cipher.seconds
            for pod in pods:
                for name, m in pod.dbs[side].multiplexing().items():
                    rec.batches[name] = rec.batches.get(name, 0) + m["batches"]
                    rec.batched[name] = rec.batched.get(name, 0) + m["statements"]
        queue.put(("result", args.worker, [asdict(rec) for rec in recs]))
    finally:
        for pod in pods:
            for db in pod.dbs:
                await db.close()


def main(args: WorkerArgs, queue: Any, start_event: Any, start_epoch: Any) -> None:
    """Process entry point (multiprocessing, spawn)."""
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        asyncio.run(_run(args, queue, start_event, start_epoch))
    except BaseException as exc:  # report, never hang the runner
        queue.put(("failed", args.worker, f"{type(exc).__name__}: {exc}"))
