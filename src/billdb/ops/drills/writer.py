"""A writer that commits through the application's write route and records every
acknowledged commit, so a drill can measure the outage and count what was lost.

Each commit inserts one bill_inquiry_history row whose request_id names the drill run and a
sequence number. RTO = time from the last acknowledged commit before the fault to the first
acknowledged commit after it (CloudNativePG measures its failovers the same way).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from billdb import sql as sqlfiles
from billdb.client import (
    BillDB,
    ClientConfig,
    DeadlineExceeded,
    RouteUnavailable,
    TransactionInterrupted,
)
from billdb.context import Context
from billdb.errors import BilldbError

STOP_GRACE_S = 5.0  # after the client's own deadline, before a writer counts as stuck


@dataclass
class WriterLog:
    run_id: str
    acked: list[tuple[int, float]] = field(default_factory=list)  # (seq, monotonic time)
    instances: list[str] = field(default_factory=list)  # "port@postmaster start", per ack
    # (seq, t, kind): rolled_back | outcome_unknown (lost during COMMIT) | no_primary |
    # deadline (no answer within the client's deadline)
    failed: list[tuple[int, float, str]] = field(default_factory=list)
    stuck: int = 0  # 1 when the writer did not end when stopped (the watchdog cut it off)

    def outage(self, before: float) -> tuple[float | None, str | None]:
        """(seconds, new instance): from the last commit acknowledged by the instance that
        served at time `before` to the first commit acknowledged by another instance."""
        old = [i for i, (_, t) in enumerate(self.acked) if t <= before]
        if not old:
            return None, None
        old_instance = self.instances[old[-1]]
        last_old = max(t for (_, t), inst in zip(self.acked, self.instances, strict=True)
                       if inst == old_instance)
        for (_, t), inst in zip(self.acked, self.instances, strict=True):
            if inst != old_instance:
                return t - last_old, inst
        return None, None

    def longest_gap(self, since: float, until: float) -> float | None:
        """The longest time without an acknowledged commit within [since, until] (the ends
        count: a writer that stops acknowledging at `since` has a gap to the next ack)."""
        times = [since, *(t for _, t in self.acked if since < t < until), until]
        if len(times) < 3:
            return None  # no commit at all in the window
        return max(b - a for a, b in itertools.pairwise(times))

    def failures(self) -> dict[str, int]:
        """Failed write attempts by kind (a failed commit is never counted as lost)."""
        return dict(Counter(kind for _, _, kind in self.failed))

    def request_ids(self) -> set[str]:
        return {f"{self.run_id}-{seq}" for seq, _ in self.acked}


class Writer:
    """Runs in the background of a drill: `start()`, fault, `wait_ack_after(t)`, `stop()`."""

    def __init__(self, config: ClientConfig, run_id: str, interval_s: float = 0.01) -> None:
        self.config = config
        self.db = BillDB(config)
        self.log = WriterLog(run_id)
        self.interval_s = interval_s
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    @classmethod
    async def started(cls, plan_path: Path | str, drill: str, warmup: int = 20) -> Writer:
        """A writer that has already committed `warmup` rows through the write route."""
        w = cls(ClientConfig.from_plan(plan_path), f"drill-{drill}-{int(time.time())}")
        await w.start()
        if not await w.wait_acks(warmup):
            await w.stop()
            raise BilldbError("the writer could not commit through the write route")
        return w

    async def start(self) -> None:
        await self.db.open()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        insert = sqlfiles.load("drills/writer_insert")
        seq = 0
        while not self._stop.is_set():
            seq += 1
            try:
                async with self.db.write() as conn:
                    cur = await conn.execute(insert, {"request_id": f"{self.log.run_id}-{seq}",
                                                      "user_id": self.log.run_id})
                    instance = (await cur.fetchone())[0]
                self.log.acked.append((seq, time.monotonic()))
                self.log.instances.append(instance)
            except TransactionInterrupted as exc:
                kind = "outcome_unknown" if exc.outcome_unknown else "rolled_back"
                self.log.failed.append((seq, time.monotonic(), kind))
            except RouteUnavailable:
                self.log.failed.append((seq, time.monotonic(), "no_primary"))
            except DeadlineExceeded:
                self.log.failed.append((seq, time.monotonic(), "deadline"))
            await asyncio.sleep(self.interval_s)

    async def wait_new_instance(self, before: float, timeout: float) -> float | None:
        """Wait until another PostgreSQL instance acknowledges a commit; the outage in s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            gap, _ = self.log.outage(before)
            if gap is not None:
                return gap
            await asyncio.sleep(0.05)
        return None

    async def wait_acks(self, n: int, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.log.acked) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return len(self.log.acked) >= n

    async def stop(self) -> None:
        """Stop writing. The watchdog: a writer whose write does not end within the client's
        deadline and a grace is cut off and counted as stuck (the drill then fails)."""
        self._stop.set()
        if self._task:
            limit = self.config.call_deadline_s + STOP_GRACE_S
            done, _ = await asyncio.wait([self._task], timeout=limit)
            if not done:
                self._task.cancel()
                self.log.stuck = 1
                await asyncio.wait([self._task], timeout=STOP_GRACE_S)
            elif self._task.exception() is not None:
                raise self._task.exception()  # type: ignore[misc]
        await self.db.close()


    async def audit(self) -> list[str]:
        """After stop(): the acknowledged request_ids missing on the (new) primary; the
        drill's rows are deleted afterwards."""
        async with BillDB(self.config) as db:
            rows = await db.fetch(sqlfiles.load("drills/writer_rows"),
                                  {"user_id": self.log.run_id}, route="write")
            async with db.write() as conn:
                await conn.execute(sqlfiles.load("drills/writer_cleanup"),
                                   {"user_id": self.log.run_id})
        present = {r[0] for r in rows}
        return sorted(self.log.request_ids() - present, key=lambda r: int(r.rsplit("-", 1)[1]))


def discard_interrupted(ctx: Context, drill: str) -> int:
    """Delete the rows a killed run of `drill` left (its audit never ran): the revert of a
    journaled measurement. Returns how many rows went."""
    from billdb.state import cluster

    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        return conn.execute(sqlfiles.load("drills/writer_discard"),
                            {"prefix": f"drill-{drill}-"}).rowcount
