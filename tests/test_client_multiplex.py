"""billdb-client's multiplexer without a server: the sender lifecycle that once left a caller
waiting forever, and many seeded interleavings of callers, senders, batches and failures.

The connection here is a stand-in for a psycopg connection's protocol surface (autocommit,
pipeline, cursors), so that the order in which senders finish and callers wake can be
driven; what the multiplexer does with a real server is proven in tests/test_workload.py
and tests/test_ha.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from billdb_client import multiplex
from billdb_client.errors import ClientError, DeadlineExceeded
from billdb_client.multiplex import LSN_QUERY, Multiplexer

pytestmark = pytest.mark.unit

OK, ERROR, LOST, HANG = "ok", "error", "lost", "hang"


class StatementFailed(psycopg.errors.UniqueViolation):
    """A statement's own error (not a lost connection)."""


@dataclass
class Schedule:
    """The choices that decide an interleaving: how often each step yields, and which
    statements fail, lose the connection or never get an answer."""

    rng: random.Random
    max_yields: int = 0
    faults: dict[str, float] = field(default_factory=dict)
    acquire_fails: float = 0.0

    async def step(self) -> None:
        for _ in range(self.rng.randint(0, self.max_yields)):
            await asyncio.sleep(0)


class Cursor:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rowcount = -1
        self.pgresult: object | None = None
        self._rows: list[tuple] = []

    async def execute(self, query: str, params: Any = None) -> Cursor:
        await self.conn.schedule.step()
        if self.conn.closed:
            raise psycopg.OperationalError("the connection is closed")
        if query == LSN_QUERY:
            self._rows, self.rowcount, self.pgresult = [("0/16B3748",)], 1, object()
            return self
        kind = params["kind"]
        if kind == LOST:
            self.conn.closed = True
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        if kind == HANG:
            await asyncio.Event().wait()  # a server that never answers
        if self.conn.aborted:  # psycopg: a statement after a failed one in the pipeline
            raise psycopg.errors.PipelineAborted("pipeline aborted")
        if kind == ERROR:
            self.conn.aborted = self.conn.in_pipeline
            raise StatementFailed(f"statement {params['id']} failed")
        self._rows, self.rowcount, self.pgresult = [(params["id"],)], 1, object()
        return self

    async def fetchall(self) -> list[tuple]:
        await self.conn.schedule.step()
        return self._rows

    async def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None


class Pipeline:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def sync(self) -> None:
        """psycopg raises PipelineAborted (an OperationalError) for the results of statements
        queued after a failed one, on whichever step fetches them: here, the Sync."""
        await self.conn.schedule.step()
        if self.conn.aborted:
            raise psycopg.errors.PipelineAborted("pipeline aborted")

    async def __aenter__(self) -> Pipeline:
        self.conn.in_pipeline, self.conn.aborted = True, False
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.conn.in_pipeline, self.conn.aborted = False, False


class Connection:
    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.closed = False
        self.in_pipeline = False
        self.aborted = False

    async def set_autocommit(self, value: bool) -> None:
        await self.schedule.step()

    def cursor(self) -> Cursor:
        return Cursor(self)

    def pipeline(self) -> Pipeline:
        return Pipeline(self)

    async def execute(self, query: str, params: Any = None) -> Cursor:
        return await Cursor(self).execute(query, params)

    async def close(self) -> None:
        self.closed = True


def factory(schedule: Schedule):
    @contextlib.asynccontextmanager
    async def connection() -> AsyncIterator[Connection]:
        await schedule.step()
        if schedule.rng.random() < schedule.acquire_fails:
            raise psycopg.OperationalError("no connection (a failover)")
        yield Connection(schedule)
        await schedule.step()

    return connection


def test_one_caller_in_a_loop_never_waits_forever(monkeypatch: pytest.MonkeyPatch):
    """The hang of issue 21: a connection that answers without suspending, MAX_BATCH 1, one
    sender, one caller calling run() in a loop. The sender used to leave the live set in a
    done callback, after the caller had already been woken and counted it as live: the
    second call was queued with no sender, and nothing ever took it."""
    monkeypatch.setattr(multiplex, "MAX_BATCH", 1)
    schedule = Schedule(random.Random(0))

    async def main() -> list[int]:
        mux = Multiplexer(factory(schedule), senders=1)
        got = []
        for i in range(3):
            out = await mux.run("INSERT", {"id": i, "kind": OK}, fetch=True)
            got.append(out.rows[0][0])
        return got

    async def bounded() -> list[int]:
        return await asyncio.wait_for(main(), 5)  # a hang fails here, it does not block

    assert asyncio.run(bounded()) == [0, 1, 2]


@dataclass
class Scenario:
    seed: int
    callers: int
    senders: int
    max_batch: int
    calls_each: int
    lsn: bool
    faults: dict[str, float]
    acquire_fails: float
    max_yields: int

    @classmethod
    def draw(cls, seed: int) -> Scenario:
        rng = random.Random(seed)
        faults = {}
        if rng.random() < 0.5:
            faults = {ERROR: rng.choice([0.0, 0.05, 0.2]), LOST: rng.choice([0.0, 0.02, 0.1]),
                      HANG: rng.choice([0.0, 0.0, 0.01])}
        return cls(seed, callers=rng.choice([1, 1, 2, 3, rng.randint(1, 100)]),
                   senders=rng.randint(1, 15), max_batch=rng.choice([1, 1, 2, 32]),
                   calls_each=rng.randint(1, 6), lsn=rng.random() < 0.5, faults=faults,
                   acquire_fails=rng.choice([0.0, 0.0, 0.05]), max_yields=rng.randint(0, 3))


async def _play(sc: Scenario) -> tuple[int, int]:
    """Every call of every caller; (results, typed errors). Fails on a wrong result, an
    untyped error, or a call that does not end."""
    rng = random.Random(sc.seed)
    schedule = Schedule(rng, sc.max_yields, sc.faults, sc.acquire_fails)
    # Short deadlines only where a server hangs (they end those calls); elsewhere a deadline
    # far beyond any schedule's run, so a call that ends by it was stranded, not slow on a
    # loaded machine (CI: one scheduled at load 7 took longer than 0.5 s).
    hung = bool(sc.faults.get(HANG))
    mux = Multiplexer(factory(schedule), senders=sc.senders, deadline_s=0.5 if hung else 10,
                      batch_timeout_s=0.2)
    ended = {"ok": 0, "error": 0}

    async def caller(c: int) -> None:
        for n in range(sc.calls_each):
            kind = rng.choices([OK, *sc.faults], [1.0, *sc.faults.values()])[0]
            stmt = {"id": f"{c}.{n}", "kind": kind}
            try:
                out = await mux.run("INSERT", stmt, fetch=True, lsn=sc.lsn and c % 2 == 0)
            except StatementFailed:
                assert kind == ERROR, f"{stmt} got a neighbour's error"
                ended["error"] += 1
            except DeadlineExceeded:
                # Only a server that never answers may run a call out of time (with the
                # old sender lifecycle, calls stranded in the queue ended here too).
                assert sc.faults.get(HANG), f"{stmt} ran out of time with no hung server"
                ended["error"] += 1
            except (psycopg.OperationalError, ClientError) as exc:  # lost, no connection
                # ... only where a connection can be lost or refused: a neighbour's error
                # (psycopg's PipelineAborted is an OperationalError) is no lost connection.
                assert sc.faults.get(LOST) or sc.acquire_fails, f"{stmt} got {exc!r}"
                ended["error"] += 1
            else:
                assert kind == OK and out.rows == [(stmt["id"],)], (stmt, out)
                assert (out.lsn is not None) == (sc.lsn and c % 2 == 0)
                ended["ok"] += 1

    multiplex.MAX_BATCH = sc.max_batch
    try:
        done, pending = await asyncio.wait(
            [asyncio.create_task(caller(c)) for c in range(sc.callers)], timeout=15)
        assert not pending, f"{len(pending)} callers still waiting: {sc}"
        for task in done:
            task.result()
    finally:
        multiplex.MAX_BATCH = 32
        await mux.close()
    assert ended["ok"] + ended["error"] == sc.callers * sc.calls_each
    return ended["ok"], ended["error"]


def test_every_call_ends_in_seeded_interleavings():
    """400 seeded schedules: 1-100 callers, 1-15 senders, single statements and pipelined
    batches (with and without the commit's LSN), statement errors, connections lost
    mid-batch, failed checkouts and servers that never answer. Every call ends with its own
    result or a typed error."""
    totals = [0, 0]
    for seed in range(400):
        ok, failed = asyncio.run(_play(Scenario.draw(seed)))
        totals[0] += ok
        totals[1] += failed
    assert totals[0] > 1000 and totals[1] > 50  # both paths were exercised


def test_a_server_that_never_answers_ends_in_deadline_exceeded():
    schedule = Schedule(random.Random(1))

    async def main() -> DeadlineExceeded:
        mux = Multiplexer(factory(schedule), senders=2, deadline_s=0.3, batch_timeout_s=0.1,
                          name="pool 'write'")
        with pytest.raises(DeadlineExceeded) as info:
            await mux.run("INSERT", {"id": "x", "kind": HANG})
        ok = await mux.run("INSERT", {"id": "y", "kind": OK}, fetch=True)  # still serves
        assert ok.rows == [("y",)]
        await mux.close()
        return info.value

    err = asyncio.run(main())
    assert err.outcome_unknown and "answer" in err.waiting_for and "pool 'write'" in str(err)


def test_a_caller_that_gives_up_is_never_sent():
    """A call whose deadline passes while it is still queued leaves the queue (it is not sent
    later behind the caller's back) and says it was never sent."""
    schedule = Schedule(random.Random(2))

    async def main() -> tuple[DeadlineExceeded, int]:
        mux = Multiplexer(factory(schedule), senders=1, deadline_s=0.2, batch_timeout_s=5)
        first = asyncio.create_task(mux.run("INSERT", {"id": "a", "kind": HANG}))
        await asyncio.sleep(0.01)
        with pytest.raises(DeadlineExceeded) as info:
            await mux.run("INSERT", {"id": "b", "kind": OK})
        queued = len(mux._queue)
        first.cancel()
        await mux.close()
        return info.value, queued

    err, queued = asyncio.run(main())
    assert queued == 0 and not err.outcome_unknown and "connection" in err.waiting_for
