"""Routed connection pools for the Bill-Inquiry service (psycopg 3 + psycopg_pool, asyncio).

Three routes, as the plan's §7.2 says: `write` goes to the primary; `read` and `analytics`
go to the read replica and fall back to the primary when the replica is down or lags more
than the plan allows. A user who just wrote reads from the primary until the replica has
replayed that write (read-your-writes, checked by LSN). After a failover the pools reconnect
by themselves; an interrupted write raises TransactionInterrupted, reads are retried.
Single statements (`execute`, `fetch`) are multiplexed: see billdb_client.multiplex.
"""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from billdb_client.config import ClientConfig
from billdb_client.deadline import bounded
from billdb_client.errors import DeadlineExceeded, RouteUnavailable, TransactionInterrupted
from billdb_client.multiplex import Multiplexer, single_statement

T = TypeVar("T")
READ_ROUTES = ("read", "analytics")
POOLS = ("write", "primary_read", "replica")
UNKNOWN_LSN = "FFFFFFFF/FFFFFFFF"  # a write whose position is unknown: read from the primary


class _FailoverBackoff(AttemptWithBackoff):
    """Reconnect attempts every 0.1-0.5 s instead of psycopg_pool's doubling from 1 s: a
    failover takes ~20 s and the doubling would add up to 10 s more before the pool notices
    the new primary."""

    INITIAL_DELAY = 0.1
    DELAY_BACKOFF = 1.5
    MAX_DELAY = 0.5

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, self.MAX_DELAY)


async def _check_alive(conn: psycopg.AsyncConnection) -> None:
    """The pool's check on every checkout, without a round trip. An idle connection has
    nothing to read unless the server spoke first: the FATAL of a shutdown or the EOF of a
    socket it closed (what a switchover or failover leaves behind). Such a connection is
    failed here, so the pool replaces it before anyone uses it."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await conn.close()  # closed, so the pool discards it rather than keep and recheck it
        raise psycopg.OperationalError("the server sent unsolicited data (a shutdown?)")


def _lsn(text: str) -> int:
    """A pg_lsn ('16/B374D848') as an integer, for comparing positions without a query."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class _Pool(AsyncConnectionPool):
    async def _add_connection(self, attempt, growing: bool = False) -> None:  # type: ignore[override]
        await super()._add_connection(attempt or _FailoverBackoff(timeout=self.reconnect_timeout),
                                      growing)


class BillDB:
    """The service's database handle. Use `async with BillDB(cfg) as db:`."""

    REPLAY_TTL_S = 0.01  # how stale the replica's known replay position may be
    PROBE_S = 2.0  # the replica probes' bound: past it the replica counts as down for 2 s

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.routes = config.load_routes()
        self._pools: dict[str, _Pool] = {}
        self._written: dict[str, str] = {}  # user_id -> LSN of that user's last commit
        self._replica_down_until = 0.0
        self._lag_checked_at = 0.0
        self._replica_lag_ok = True
        self._replayed_lsn = 0  # the replica's replay LSN when last asked
        self._replay_checked_at = 0.0
        self._replay_query: asyncio.Future[int] | None = None
        self._mux = {name: Multiplexer(lambda name=name: self._checkout(name),
                                       senders=config.pool_size,
                                       deadline_s=config.call_deadline_s,
                                       batch_timeout_s=config.statement_timeout_s,
                                       name=f"pool {name!r}")
                     for name in POOLS}

    # --- lifecycle -------------------------------------------------------------------------

    def _new_pool(self, name: str, user: str, ports: list[int], attrs: str,
                  dbname: str | None = None) -> _Pool:
        c = self.config
        return _Pool(
            c.conninfo(user, ports, attrs, dbname), name=name, open=False,
            kwargs={"prepare_threshold": None} if c.pooler_port and not c.pooler_prepares
            else None,
            min_size=min(c.min_size, c.pool_size), max_size=c.pool_size,
            timeout=c.connection_timeout_s, max_idle=c.idle_timeout_s,
            max_lifetime=c.max_lifetime_s, check=_check_alive,
            reconnect_timeout=max(60.0, c.connection_timeout_s * 2),
        )

    async def open(self) -> BillDB:
        r, c = self.routes, self.config
        self._pools = {
            "write": self._new_pool("write", c.write_user, r.write, "read-write"),
            "primary_read": self._new_pool("primary_read", c.read_user, r.write, "read-write"),
        }
        if c.pooler_port:
            self._pools = {name: self._new_pool(name, user, [c.pooler_port], attrs, db)
                           for name, user, attrs, db in (
                               ("write", c.write_user, "read-write", None),
                               ("primary_read", c.read_user, "read-write", None),
                               ("replica", c.read_user, "any", c.pooler_read_dbname))}
        elif r.read:
            self._pools["replica"] = self._new_pool("replica", c.read_user, r.read, "any")
        for pool in self._pools.values():
            await pool.open(wait=False)
        return self

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until every pool holds its min_size connections (e.g. before a benchmark)."""
        for pool in self._pools.values():
            await pool.wait(timeout)

    async def close(self) -> None:
        for mux in self._mux.values():
            await mux.close()
        for pool in self._pools.values():
            await pool.close()
        self._pools = {}

    async def __aenter__(self) -> BillDB:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def reload_routes(self) -> bool:
        """Pick up a repointed route (after DR); True when the routes changed."""
        routes = self.config.load_routes()
        if routes == self.routes:
            return False
        old = self._pools
        self.routes = routes
        await self.open()
        for pool in old.values():
            await pool.close(timeout=1)
        return True

    # --- writes ----------------------------------------------------------------------------

    @asynccontextmanager
    async def write(self, user_id: str | None = None) -> AsyncIterator[psycopg.AsyncConnection]:
        """A write transaction on the primary, committed when the block ends.

        Raises TransactionInterrupted when the connection is lost (a failover): before the
        commit it rolled back; during the commit its outcome is unknown. The whole
        transaction (a connection, the block, the commit) ends by the profile's deadline
        (`call_deadline_s`): past it DeadlineExceeded, the connection closed (the server
        rolls back what had not committed) and the outcome unknown only if COMMIT was sent.
        """
        async with bounded(self.config.call_deadline_s, "a connection to the primary") as dl:
            pool, conn = await self._primary_connection()
            done = False
            try:
                dl.now("the write transaction's statements")
                try:
                    yield conn
                except psycopg.OperationalError as exc:
                    raise TransactionInterrupted(False, exc) from exc
                except Exception:
                    if not conn.broken:
                        await conn.rollback()
                    done = True
                    raise
                dl.now("the answer to COMMIT", outcome_unknown=True)
                try:
                    await conn.commit()
                except psycopg.OperationalError as exc:
                    raise TransactionInterrupted(True, exc) from exc
                dl.now("the commit's WAL position")
                if user_id is not None:
                    await self._remember_write(conn, user_id)
                done = True
            finally:
                if not done:  # cut off mid-protocol: no round trip that could wait again
                    await conn.close()
                await pool.putconn(conn)

    async def _primary_connection(self) -> tuple[_Pool, psycopg.AsyncConnection]:
        """A write connection, waiting up to the plan's connection timeout. While waiting,
        the routes file is reread every couple of seconds so a repointed route is followed."""
        deadline = time.monotonic() + self.config.connection_timeout_s
        while True:
            remaining = deadline - time.monotonic()
            pool = self._pools["write"]
            try:
                return pool, await pool.getconn(timeout=max(0.1, min(2.0, remaining)))
            except PoolTimeout as exc:
                if await self.reload_routes():
                    continue
                if time.monotonic() >= deadline:
                    raise RouteUnavailable(
                        f"no primary within {self.config.connection_timeout_s} s") from exc

    @asynccontextmanager
    async def _checkout(self, name: str) -> AsyncIterator[psycopg.AsyncConnection]:
        """A connection of pool `name` for the statement multiplexer (write: the primary,
        following a repointed route)."""
        if name == "write":
            pool, conn = await self._primary_connection()
            try:
                yield conn
            finally:
                await pool.putconn(conn)
        else:
            async with self._pools[name].connection() as conn:
                yield conn

    async def _remember_write(self, conn: psycopg.AsyncConnection, user_id: str) -> None:
        try:
            cur = await conn.execute("SELECT pg_current_wal_lsn()::text")
            self._written[user_id] = (await cur.fetchone())[0]
            await conn.commit()
        except psycopg.OperationalError:
            self._written[user_id] = UNKNOWN_LSN  # read from the primary

    # --- reads -----------------------------------------------------------------------------

    async def _replica_usable(self, user_id: str | None) -> bool:
        if "replica" not in self._pools or time.monotonic() < self._replica_down_until:
            return False
        now = time.monotonic()
        if now - self._lag_checked_at > 1.0:
            self._lag_checked_at = now
            self._replica_lag_ok = await self._lag_within_bound()
        if not self._replica_lag_ok:
            return False
        if user_id is not None and user_id in self._written:
            lsn = _lsn(self._written[user_id])
            if lsn > self._replayed_lsn and lsn > await self._replay_position():
                return False  # the replica has not replayed the user's last commit yet
            self._written.pop(user_id, None)
        return True

    async def _replay_position(self) -> int:
        """The replica's replay LSN, asked at most every REPLAY_TTL_S; readers arriving while
        a question is out share its answer (one query serves them all, not one per read)."""
        if time.monotonic() - self._replay_checked_at < self.REPLAY_TTL_S:
            return self._replayed_lsn
        if self._replay_query is None or self._replay_query.done():
            self._replay_query = asyncio.ensure_future(self._ask_replay())
        return await asyncio.shield(self._replay_query)

    async def _ask_replay(self) -> int:
        try:
            async with bounded(self.PROBE_S, "the replica's replay position"), \
                    self._pools["replica"].connection(timeout=self.PROBE_S) as conn, \
                    single_statement(conn):
                cur = await conn.execute("SELECT pg_last_wal_replay_lsn()::text")
                replayed = (await cur.fetchone())[0]
        except (psycopg.OperationalError, PoolTimeout, DeadlineExceeded):
            self._replica_down_until = time.monotonic() + 2.0
            return 0
        self._replay_checked_at = time.monotonic()
        if replayed is not None:
            self._replayed_lsn = _lsn(replayed)
        return self._replayed_lsn

    async def _lag_within_bound(self) -> bool:
        try:
            async with bounded(self.PROBE_S * 2, "the replica's lag"), \
                    self._pools["replica"].connection(timeout=self.PROBE_S) as rconn, \
                    single_statement(rconn):
                cur = await rconn.execute("SELECT pg_last_wal_replay_lsn()::text")
                replayed = (await cur.fetchone())[0]
            async with bounded(self.PROBE_S * 2, "the primary's WAL position"), \
                    self._pools["primary_read"].connection(timeout=self.PROBE_S) as pconn, \
                    single_statement(pconn):
                cur = await pconn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)",
                                          [replayed])
                lag = (await cur.fetchone())[0]
        except (psycopg.OperationalError, PoolTimeout, DeadlineExceeded):
            self._replica_down_until = time.monotonic() + 2.0
            return False
        if replayed is not None:
            self._replayed_lsn = _lsn(replayed)
        return replayed is not None and lag is not None and lag <= self.config.max_lag_bytes

    async def _routed(self, attempt: Callable[[str], Awaitable[T]], route: str,
                      user_id: str | None) -> T:
        """Run `attempt(pool name)` on the pool `route` leads to now, retried on a lost
        connection (the replica is then skipped for a moment and the routes reread)."""
        if route not in (*READ_ROUTES, "write"):
            raise ValueError(f"route must be one of read, analytics, write; not {route!r}")
        last: BaseException | None = None
        async with bounded(self.config.call_deadline_s, f"the {route} route") as deadline:
            for attempt_no in range(self.config.read_retries + 1):
                use_replica = route in READ_ROUTES and await self._replica_usable(user_id)
                name = "replica" if use_replica else (
                    "primary_read" if route in READ_ROUTES else "write")
                deadline.now(f"pool {name!r} on the {route} route (attempt {attempt_no + 1})")
                try:
                    return await attempt(name)
                except (psycopg.OperationalError, PoolTimeout) as exc:
                    last = exc
                    if use_replica:
                        self._replica_down_until = time.monotonic() + 2.0
                    await self.reload_routes()
                    await asyncio.sleep(min(0.2 * (attempt_no + 1), 1.0))
        raise RouteUnavailable(f"{route} route failed after retries: {last}") from last

    async def run_read(self, fn: Callable[[psycopg.AsyncConnection], Awaitable[T]], *,
                       route: str = "read", user_id: str | None = None) -> T:
        """Run read-only work, retried transparently on a lost connection.

        `route` is read or analytics (the replica, falling back to the primary) or write
        (the primary, e.g. a read that must see the caller's own uncommitted-elsewhere data).
        """

        async def on(name: str) -> T:
            async with self._pools[name].connection() as conn:
                try:
                    result = await fn(conn)
                    await conn.rollback()
                except asyncio.CancelledError:  # the deadline: no round trip that could wait
                    await conn.close()
                    raise
                return result

        return await self._routed(on, route, user_id)

    async def fetch(self, query: str, params: Any = None, *, route: str = "read",
                    user_id: str | None = None) -> list[tuple]:
        """Rows of a read-only statement on `route` (retried transparently; multiplexed)."""

        async def on(name: str) -> list[tuple]:
            return (await self._mux[name].run(query, params, fetch=True)).rows

        return await self._routed(on, route, user_id)

    async def execute(self, query: str, params: Any = None, *, user_id: str | None = None,
                      fetch: bool = False) -> tuple[int, list[tuple]]:
        """One statement on the primary as its own transaction: (rowcount, rows if `fetch`).

        The cheap path for the service's single-statement writes: multiplexed (it may share a
        round trip with other callers' statements, still committing alone), and with
        `user_id` the commit's WAL position is taken in the same flight (read-your-writes).
        A lost connection raises TransactionInterrupted with the outcome unknown: the
        statement may have committed, so a retry must be idempotent.
        """
        try:
            out = await self._mux["write"].run(query, params, fetch=fetch,
                                               lsn=user_id is not None)
        except psycopg.OperationalError as exc:
            if user_id is not None:
                self._written[user_id] = UNKNOWN_LSN  # read from the primary
            raise TransactionInterrupted(True, exc) from exc
        if user_id is not None:
            self._written[user_id] = out.lsn or UNKNOWN_LSN
        return out.rowcount, out.rows

    def multiplexing(self) -> dict[str, dict[str, int]]:
        """Per pool: batches sent, statements in them, the largest batch."""
        return {name: {"batches": m.batches, "statements": m.statements, "largest": m.largest}
                for name, m in self._mux.items() if m.batches}

    async def served_by(self, route: str = "read", user_id: str | None = None) -> int:
        """The port of the server that would serve `route` now (for tests and status)."""

        async def port(conn: psycopg.AsyncConnection) -> int:
            cur = await conn.execute("SELECT inet_server_port()")
            return (await cur.fetchone())[0]

        return await self.run_read(port, route=route, user_id=user_id)
