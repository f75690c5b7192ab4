"""Statement multiplexing with client-side group commit: single statements from concurrent
callers share one round trip and one commit.

Callers queue a statement and wait for its outcome; sender tasks (at most one per pooled
connection) each send everything queued so far in libpq's pipeline mode, as one implicit
transaction. Under load a batch holds several statements, and the cost that dominates a
synchronous-replication cluster, one WAL flush on the primary and one on the synchronous
standby per commit, is paid once per batch, as the server's own group commit does when many
backends commit at once. The batch's round trip and wake-ups are shared too. With one caller a
batch holds one statement, which is then exactly a single-statement transaction.

What sharing a transaction changes, and why it is safe for these statements: each one is a
caller's whole transaction at READ COMMITTED (every statement takes its own snapshot either
way), a caller has one statement in flight, and callers learn the outcome only after the
commit. If any statement of a batch fails, or the commit does, nothing of the batch is kept:
every statement is then run again alone, so each caller gets its own statement's result or
error, never a neighbour's. A lost connection fails the whole batch with the outcome unknown,
as it would a single statement.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor

from billdb_client.deadline import bounded
from billdb_client.errors import DeadlineExceeded

MAX_BATCH = 32
LSN_QUERY = "SELECT pg_current_wal_lsn()::text"


@dataclass(frozen=True)
class Outcome:
    rowcount: int
    rows: list[tuple]
    lsn: str | None = None  # the server's WAL position after the statement committed


@dataclass(eq=False)
class _Call:
    query: str
    params: Any
    fetch: bool
    lsn: bool  # the caller needs the commit's WAL position (read-your-writes)
    future: asyncio.Future[Outcome]

    def resolve(self, outcome: Outcome) -> None:
        if not self.future.done():
            self.future.set_result(outcome)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


@contextlib.asynccontextmanager
async def single_statement(conn: AsyncConnection) -> AsyncIterator[None]:
    """Autocommit while statements run: no BEGIN/COMMIT or ROLLBACK round trips (at READ
    COMMITTED a one-statement transaction sees and commits exactly the same)."""
    await conn.set_autocommit(True)
    try:
        yield
    finally:
        with contextlib.suppress(psycopg.Error):  # a broken connection: the pool discards it
            await conn.set_autocommit(False)


async def _queued(step: Awaitable[Any]) -> bool:
    """Run one pipeline step; False when a statement failed (its error may surface on a later
    step). A lost connection is raised. psycopg's PipelineAborted, raised for the statements
    queued after a failed one, is an OperationalError but no lost connection: the statement
    failed (CI: a duplicate key's neighbours were told their connection was lost)."""
    try:
        await step
    except psycopg.errors.PipelineAborted:
        return False
    except psycopg.OperationalError:
        raise
    except psycopg.Error:
        return False
    return True


async def _outcome(cur: AsyncCursor, call: _Call, lsn: str | None) -> Outcome:
    rows = await cur.fetchall() if call.fetch else []
    return Outcome(cur.rowcount, rows, lsn if call.lsn else None)


class Multiplexer:
    """One route's statement queue. `connection` yields a pooled connection (it decides the
    pool, so a repointed route is followed); at most `senders` connections are used at once,
    each carrying up to MAX_BATCH statements per round trip.

    Every call ends by `deadline_s` (waiting for a connection, then for the server), and a
    batch the server does not answer within `batch_timeout_s` fails with its connection
    closed: DeadlineExceeded, never a caller waiting forever.

    The senders' invariant: while a call is queued, some sender in `_senders` will look at
    the queue again. A sender leaves `_senders` in the same step (no await between) as it
    finds the queue empty, so a caller that counts it as live can rely on it. (Leaving in a
    done callback, as before, let a sender that had already seen the queue empty still count
    as live: a caller woken before the callback queued a call that no sender ever took.)"""

    def __init__(self, connection: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
                 senders: int, *, deadline_s: float = 60.0, batch_timeout_s: float = 30.0,
                 name: str = "statements") -> None:
        self._connection = connection
        self._max_senders = max(1, senders)
        self.deadline_s = deadline_s
        self.batch_timeout_s = batch_timeout_s
        self.name = name
        self._queue: deque[_Call] = deque()
        self._senders: set[asyncio.Task[None]] = set()
        self._closing = False
        self.batches = 0  # batches sent, and the statements in them: their ratio is the sharing
        self.statements = 0
        self.largest = 0

    async def run(self, query: str, params: Any = None, *, fetch: bool = False,
                  lsn: bool = False) -> Outcome:
        """Run one statement (possibly sharing a commit, see the module). Raises what running
        it alone would (a lost connection: psycopg.OperationalError, outcome unknown), or
        DeadlineExceeded past `deadline_s`."""
        if self._closing:
            raise psycopg.OperationalError("the client is closing")
        call = _Call(query, params, fetch, lsn, asyncio.get_running_loop().create_future())
        self._queue.append(call)
        self._start_sender()
        try:
            async with bounded(self.deadline_s, f"a connection for a statement on "
                                                f"{self.name}") as deadline:
                try:
                    return await call.future
                except asyncio.CancelledError:
                    if call not in self._queue:  # taken into a batch: the server has it
                        deadline.now(f"the server's answer to a statement on {self.name}",
                                     outcome_unknown=True)
                    raise
        finally:
            if call in self._queue:  # the caller gave up before it was sent: never send it
                self._queue.remove(call)

    def _start_sender(self) -> None:
        """Another sender while there are fewer than the maximum (each caller may bring its
        own, so concurrent callers spread over connections)."""
        if self._queue and len(self._senders) < self._max_senders and not self._closing:
            self._senders.add(asyncio.create_task(self._send()))

    async def close(self) -> None:
        self._closing = True
        for task in list(self._senders):
            task.cancel()
        if self._senders:
            await asyncio.wait(list(self._senders), timeout=self.batch_timeout_s)
        while self._queue:
            self._queue.popleft().fail(psycopg.OperationalError("the client is closing"))

    async def _send(self) -> None:
        me = asyncio.current_task()
        batch: list[_Call] = []
        try:
            while self._queue:
                try:
                    async with self._connection() as conn:
                        # Taken only now, with a connection in hand: what queued while
                        # waiting for it rides along.
                        n = min(len(self._queue), MAX_BATCH)
                        batch = [self._queue.popleft() for _ in range(n)]
                        if batch:
                            await self._run_bounded(conn, batch)
                        batch = []
                except Exception as exc:  # no connection (a failover, a timeout)
                    for call in batch or [self._queue.popleft() for _ in range(len(self._queue))]:
                        call.fail(exc)
                    batch = []
        finally:
            for call in batch:  # cancelled: nobody must wait forever
                call.fail(psycopg.OperationalError("the client is closing"))
            # The queue was just seen empty (or this sender is ending on an error or a
            # cancel): leave now, with no await in between (see the class).
            self._senders.discard(me)  # type: ignore[arg-type]
            self._start_sender()  # calls left by a cancelled sender get another

    async def _run_bounded(self, conn: AsyncConnection, batch: list[_Call]) -> None:
        """The batch, or DeadlineExceeded for each call when the server does not answer in
        time; the connection is then closed (its protocol state is unknown), so the pool
        replaces it."""
        try:
            async with bounded(self.batch_timeout_s,
                               f"the server's answer to {len(batch)} statement(s) on "
                               f"{self.name}") as deadline:
                deadline.outcome_unknown = True
                await self._run_batch(conn, batch)
        except DeadlineExceeded as exc:
            await conn.close()
            for call in batch:
                call.fail(exc)

    async def _run_batch(self, conn: AsyncConnection, batch: list[_Call]) -> None:
        self.batches += 1
        self.statements += len(batch)
        self.largest = max(self.largest, len(batch))
        if len(batch) == 1 and not batch[0].lsn:
            await self._run_alone(conn, batch[0])
            return
        cursors = [conn.cursor() for _ in batch]
        lsn_cur = conn.cursor() if any(c.lsn for c in batch) else None
        try:
            async with single_statement(conn), conn.pipeline() as pipeline:
                ok = True
                for call, cur in zip(batch, cursors, strict=True):
                    ok = await _queued(cur.execute(call.query, call.params)) and ok
                ok = await _queued(pipeline.sync()) and ok  # the Sync: commit or roll back
                ok = ok and all(cur.pgresult is not None for cur in cursors)
                if ok and lsn_cur is not None:  # after the commit: one position for all
                    await lsn_cur.execute(LSN_QUERY)
        except psycopg.OperationalError as exc:  # the connection is gone: outcomes unknown
            for call in batch:
                call.fail(exc)
            return
        if not ok:  # rolled back as a whole: each statement again, alone
            for call in batch:
                await self._run_alone(conn, call)
            return
        lsn = (await lsn_cur.fetchone())[0] if lsn_cur is not None else None
        for call, cur in zip(batch, cursors, strict=True):
            call.resolve(await _outcome(cur, call, lsn))

    @staticmethod
    async def _run_alone(conn: AsyncConnection, call: _Call) -> None:
        try:
            async with single_statement(conn):
                cur = await conn.execute(call.query, call.params)
                outcome = await _outcome(cur, call, None)
                if call.lsn:
                    lsn = (await (await conn.execute(LSN_QUERY)).fetchone())[0]
                    outcome = Outcome(outcome.rowcount, outcome.rows, lsn)
        except Exception as exc:
            call.fail(exc)
        else:
            call.resolve(outcome)
