"""The Bill-Inquiry service's queries (docs/data-model.md), on the routed client.

Writes go to the primary (`BillDB.write`); a user's reads go to the read replica unless it
has not yet replayed that user's last write (read-your-writes), then to the primary. The SQL
is in `billdb_client/sql/*.sql`, always with bound parameters. Encrypted columns are
sealed here, before a value leaves the process, and opened here after it comes back.

What stays in clear, and why: line_number is the lookup key of every query (and part of the
cache key), so it must be comparable in the database; the customer's name is never searched
by the service, so it needs no searchable form (a keyed HMAC blind index would be the way if an
exact-match search were ever needed). Statuses, dates and result summaries are not sensitive
and drive the history queries. kos_data_json holds call metadata, never the bill itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from billdb_client import sql as sqlfiles
from billdb_client.crypto import FieldCipher, context
from billdb_client.db import BillDB
from billdb_client.errors import ClientError

NAME_COLUMN = "customer_info.customer_name"
HISTORY_BILL_COLUMN = "bill_inquiry_history.bill_info_json"
CACHE_BILL_COLUMN = "bill_info_cache.bill_info_json"


def _sql(name: str) -> str:
    return sqlfiles.load(name)


def cache_key(line_number: str, inquiry_month: str) -> str:
    return f"{line_number}:{inquiry_month}"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    line_number: str
    name: str | None
    status: str
    operator_code: str
    cached_at: dt.datetime
    expires_at: dt.datetime
    fresh: bool


@dataclass(frozen=True)
class BillRequest:
    request_id: str
    user_id: str
    line_number: str
    inquiry_month: str | None
    request_time: dt.datetime
    process_time: dt.datetime | None
    status: str
    result_summary: str | None
    bill_info: Any
    error_message: str | None


@dataclass(frozen=True)
class HistoryRow:
    id: int
    request_id: str
    user_id: str
    line_number: str
    inquiry_month: str | None
    request_time: dt.datetime
    process_time: dt.datetime | None
    status: str
    result_summary: str | None
    error_message: str | None


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    cursor: tuple[dt.datetime, int] | None  # pass to history() for the next page


@dataclass(frozen=True)
class CachedBill:
    bill_info: Any
    cached_at: dt.datetime
    expires_at: dt.datetime
    access_count: int


@dataclass(frozen=True)
class KosCall:
    bill_request_id: str
    line_number: str
    inquiry_month: str | None
    request_time: dt.datetime
    response_time: dt.datetime | None
    result_code: str | None
    result_message: str | None = None
    kos_data: dict[str, Any] | None = None
    error_detail: str | None = None
    retry_count: int = 0
    circuit_breaker_state: str | None = "CLOSED"


_CONFIG_TYPES = {"INTEGER": int, "BOOLEAN": lambda v: v.strip().lower() in ("true", "1", "on"),
                 "STRING": str}


# The columns this repository's statements encrypt, and the column binding each to its row.
_SEALED = {NAME_COLUMN: "customer_id", HISTORY_BILL_COLUMN: "request_id",
           CACHE_BILL_COLUMN: "cache_key"}


def _check_columns(profile_columns: dict[str, str]) -> None:
    """The profile's encrypted columns (the plan's §10.2 list) must be the ones sealed here:
    a column the plan encrypts but this code would store in clear is refused at start."""
    if profile_columns and profile_columns != _SEALED:
        raise ClientError(f"the profile's encrypted_columns {sorted(profile_columns.items())} "
                          f"differ from the repository's {sorted(_SEALED.items())}")


class BillRepository:
    """The service's data access. `statements` counts the SQL statements it has run."""

    HIT_FLUSH_S = 1.0

    def __init__(self, db: BillDB, cipher: FieldCipher) -> None:
        self.db = db
        self.cipher = cipher
        self.statements = 0
        _check_columns(db.config.encrypted_columns)
        self._hits: dict[str, tuple[int, dt.datetime]] = {}
        self._flusher: asyncio.Task | None = None
        self._flushing = False

    async def _write(self, name: str, params: dict[str, Any], user_id: str | None = None,
                     fetch: bool = False) -> tuple[int, tuple | None]:
        """One statement in its own transaction on the primary: (rowcount, first row)."""
        self.statements += 1
        count, rows = await self.db.execute(_sql(name), params, user_id=user_id, fetch=fetch)
        return count, (rows[0] if rows else None)

    async def _read(self, name: str, params: dict[str, Any], user_id: str | None = None,
                    route: str = "read") -> list[tuple]:
        self.statements += 1
        return await self.db.fetch(_sql(name), params, route=route, user_id=user_id)

    # --- customers -------------------------------------------------------------------------

    async def get_customer(self, line_number: str) -> Customer | None:
        rows = await self._read("customer_get", {"line_number": line_number})
        if not rows:
            return None
        cid, line, name, status, op, cached_at, expires_at, fresh = rows[0]
        plain = self.cipher.open_text(name, context(NAME_COLUMN, cid)) if name else None
        return Customer(cid, line, plain, status, op, cached_at, expires_at, fresh)

    async def put_customer(self, customer_id: str, line_number: str, name: str | None,
                           operator_code: str, status: str = "ACTIVE") -> None:
        sealed = self.cipher.seal_text(name, context(NAME_COLUMN, customer_id)) \
            if name is not None else None
        await self._write("customer_put", {
            "customer_id": customer_id, "line_number": line_number, "customer_name": sealed,
            "status": status, "operator_code": operator_code})

    # --- inquiries -------------------------------------------------------------------------

    async def create_request(self, request_id: str, user_id: str, line_number: str,
                             inquiry_month: str | None) -> dt.datetime:
        """Record a new PROCESSING inquiry; returns its request_time."""
        _, row = await self._write("request_create", {
            "request_id": request_id, "user_id": user_id, "line_number": line_number,
            "inquiry_month": inquiry_month}, user_id=user_id, fetch=True)
        assert row is not None
        return row[0]

    async def record_kos_call(self, call: KosCall) -> None:
        await self._write("kos_record", {
            "bill_request_id": call.bill_request_id, "line_number": call.line_number,
            "inquiry_month": call.inquiry_month, "request_time": call.request_time,
            "response_time": call.response_time, "result_code": call.result_code,
            "result_message": call.result_message,
            "kos_data_json": Jsonb(call.kos_data) if call.kos_data is not None else None,
            "error_detail": call.error_detail, "retry_count": call.retry_count,
            "circuit_breaker_state": call.circuit_breaker_state})

    async def complete_request(self, request_id: str, user_id: str, bill_info: Any,
                               result_summary: str | None = None) -> bool:
        """COMPLETED with the bill; False when the request was not PROCESSING (a retry)."""
        sealed = self.cipher.seal_json(bill_info, context(HISTORY_BILL_COLUMN, request_id))
        n, _ = await self._write("request_complete", {
            "request_id": request_id, "bill_info_json": sealed,
            "result_summary": result_summary}, user_id=user_id)
        return n == 1

    async def fail_request(self, request_id: str, user_id: str, error_message: str,
                           status: str = "FAILED") -> bool:
        if status not in ("FAILED", "TIMEOUT"):
            raise ValueError("status must be FAILED or TIMEOUT")
        n, _ = await self._write("request_fail", {
            "request_id": request_id, "status": status, "error_message": error_message},
            user_id=user_id)
        return n == 1

    async def get_request(self, request_id: str, user_id: str | None = None
                          ) -> BillRequest | None:
        """One inquiry; with `user_id`, that user's own writes are visible (read-your-writes)."""
        rows = await self._read("request_get", {"request_id": request_id}, user_id=user_id)
        if not rows:
            return None
        r = rows[0]
        bill = self.cipher.open_json(r[8], context(HISTORY_BILL_COLUMN, r[0])) if r[8] else None
        return BillRequest(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bill, r[9])

    async def history(self, line_numbers: list[str], *, status: str | None = None,
                      since: dt.datetime | None = None, until: dt.datetime | None = None,
                      page_size: int = 20, cursor: tuple[dt.datetime, int] | None = None,
                      user_id: str | None = None) -> HistoryPage:
        """Inquiries of these lines, newest first; pass the returned cursor for the next page."""
        params: dict[str, Any] = {
            "status": status, "since": since, "until": until,
            "before_time": cursor[0] if cursor else None,
            "before_id": cursor[1] if cursor else None, "page_size": page_size}
        lines = list(line_numbers)
        if len(lines) == 1:  # the common case has its own statement: an ordered index scan
            rows = await self._read("history_page", {**params, "line_number": lines[0]},
                                    user_id=user_id)
        else:
            rows = await self._read("history_page_lines", {**params, "line_numbers": lines},
                                    user_id=user_id)
        out = [HistoryRow(*r) for r in rows]
        nxt = (out[-1].request_time, out[-1].id) if len(out) == page_size else None
        return HistoryPage(out, nxt)

    # --- bill cache ------------------------------------------------------------------------

    async def get_cached_bill(self, line_number: str, inquiry_month: str,
                              user_id: str | None = None) -> CachedBill | None:
        """The unexpired cached bill, read like any read (replica, read-your-writes). The hit
        is counted in memory and added to access_count by a flush at most a second later:
        one write per second per client instead of a replicated commit per hit."""
        key = cache_key(line_number, inquiry_month)
        rows = await self._read("cache_get", {"cache_key": key}, user_id=user_id)
        if not rows:
            return None
        row = rows[0]
        bill = self.cipher.open_json(row[0], context(CACHE_BILL_COLUMN, key))
        self._count_hit(key)
        return CachedBill(bill, row[1], row[2], row[3])

    def _count_hit(self, key: str) -> None:
        n, _ = self._hits.get(key, (0, None))
        self._hits[key] = (n + 1, dt.datetime.now(dt.UTC))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.HIT_FLUSH_S)
        self._flushing = True
        try:
            await self.flush_cache_hits()
        finally:
            self._flushing = False

    async def flush_cache_hits(self) -> int:
        """Write the counted cache hits (one statement); the number of entries updated. On a
        failure the counts are kept for the next flush."""
        hits, self._hits = self._hits, {}
        if not hits:
            return 0
        keys = sorted(hits)
        try:
            await self._write("cache_hits", {"keys": keys, "hits": [hits[k][0] for k in keys],
                                             "last_hits": [hits[k][1] for k in keys]})
        except (ClientError, psycopg.Error):
            for k, (n, t) in hits.items():
                m, _ = self._hits.get(k, (0, t))
                self._hits[k] = (n + m, t)
            return 0
        return len(keys)

    async def close(self) -> None:
        """Flush what is still counted (call before closing the BillDB)."""
        if self._flusher is not None and not self._flusher.done():
            if self._flushing:  # let a running flush finish rather than cancel its query
                await asyncio.gather(self._flusher, return_exceptions=True)
            else:
                self._flusher.cancel()
        await self.flush_cache_hits()

    async def put_cached_bill(self, line_number: str, inquiry_month: str,
                              bill_info: Any, user_id: str | None = None) -> dt.datetime:
        """Fill the cache; returns when the entry expires (bill.cache.ttl.hours)."""
        key = cache_key(line_number, inquiry_month)
        _, row = await self._write("cache_put", {
            "cache_key": key, "line_number": line_number, "inquiry_month": inquiry_month,
            "bill_info_json": self.cipher.seal_json(bill_info, context(CACHE_BILL_COLUMN, key))},
            user_id=user_id, fetch=True)
        assert row is not None
        return row[0]

    # --- configuration ---------------------------------------------------------------------

    async def active_config(self) -> dict[str, Any]:
        """Active system_config values, typed by config_type (JSON parsed, INTEGER int, …)."""
        out: dict[str, Any] = {}
        for key, value, ctype in await self._read("config_active", {}):
            out[key] = json.loads(value) if ctype == "JSON" else _CONFIG_TYPES[ctype](value)
        return out
