"""One simulated Bill-Inquiry user: the service flow, on the real repository, timed.

A flow: read the customer, create the inquiry, record the KOS call, complete it with the bill,
poll it by id (read-your-writes: it must come back COMPLETED with the same bill), page the
line's history, then hit the bill cache or fill it. The user pauses `think` seconds between
two operations, so N users with a 1 s think time send about N operations a second.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from billdb.client.crypto import FieldCipher, Keyring
from billdb.client.repository import BillRepository, KosCall
from billdb.ops.bench.schedule import Turns

OPERATIONS = ("customer_info", "create_request", "record_kos", "complete_request",
              "poll_request", "history_page", "cache_get", "cache_put")
BENCH_LINE_BASE = 99_000_000_000  # benchmark lines: 11 digits starting 99, never real numbers
MONTHS_BACK = 3  # inquiries spread over this many months, so the cache both hits and misses


def line_number(i: int) -> str:
    return str(BENCH_LINE_BASE + i)


def user_id(i: int) -> str:
    return f"bench-u{i}"


def months(today: dt.date, n: int = MONTHS_BACK) -> list[str]:
    out, y, m = [], today.year, today.month
    for _ in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        out.append(f"{y:04d}-{m:02d}")
    return out


def bill_for(line: str, month: str, rng: random.Random) -> dict[str, Any]:
    """A bill of realistic size (about 1 KB of JSON)."""
    items = [{"code": f"C{n:03d}", "name": name, "amount": rng.randrange(1000, 60000, 10)}
             for n, name in enumerate(("기본료", "데이터 사용료", "음성 통화료", "문자 이용료",
                                       "부가서비스", "소액결제", "기기 할부금", "할인",
                                       "부가가치세", "미납 요금"))]
    return {"line_number": line, "month": month, "currency": "KRW",
            "total": sum(i["amount"] for i in items), "items": items,
            "due_date": f"{month}-25", "payment": {"method": "auto-transfer", "bank": "088"},
            "usage": {"data_mb": rng.randrange(100, 50000), "voice_min": rng.randrange(0, 900),
                      "sms": rng.randrange(0, 300)}}


class PassThroughCipher(FieldCipher):
    """No encryption, same envelope shape and size (for measuring what AES-GCM costs only:
    `billdb bench --no-encryption`). Values carry the key id k0, which no keyring has, so a
    leftover is caught by `billdb verify` and `billdb keys status`."""

    def __init__(self) -> None:
        super().__init__(Keyring({"k0": bytes(32)}, "k0"))

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        body = base64.urlsafe_b64encode(bytes(28) + plaintext).rstrip(b"=").decode()
        return f"v1:k0:{body}"

    def open(self, token: str, aad: bytes) -> bytes:
        body = token.split(":", 2)[2]
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[28:]


class TimedCipher:
    """Wraps a cipher and adds up the time spent sealing and opening values (JSON encoding
    included): what column encryption costs the flow, measured where it happens."""

    def __init__(self, inner: FieldCipher) -> None:
        self.inner = inner
        self.seconds = 0.0

    def _timed(self, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds += time.perf_counter() - t0

    def seal_text(self, text: str, aad: bytes) -> str:
        return self._timed(self.inner.seal_text, text, aad)

    def open_text(self, token: str, aad: bytes) -> str:
        return self._timed(self.inner.open_text, token, aad)

    def seal_json(self, obj: Any, aad: bytes) -> str:
        return self._timed(self.inner.seal_json, obj, aad)

    def open_json(self, token: str, aad: bytes) -> Any:
        return self._timed(self.inner.open_json, token, aad)


@dataclass
class Recorder:
    """Latencies of the operations that started inside the measured window."""

    window: tuple[float, float] = (0.0, 0.0)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {o: [] for o in OPERATIONS})
    flows: list[float] = field(default_factory=list)  # sum of a flow's operation latencies
    statements: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    ops_total: int = 0  # every operation, for the progress line
    errors_total: int = 0
    flows_total: int = 0
    cipher_s: float = 0.0  # time in the cipher over all flows (TimedCipher)
    batches: dict[str, int] = field(default_factory=dict)  # pool -> multiplexed batches sent
    batched: dict[str, int] = field(default_factory=dict)  # pool -> statements in them
    gc_collections: int = 0  # the client's garbage collections in the window (GcPauses)
    gc_pause_s: float = 0.0
    gc_longest_s: float = 0.0
    by_turn: dict[int, list[float]] = field(default_factory=dict)  # with --compare-direct
    # Users still in an operation at the window's end + grace: cut off by the watchdog and
    # counted as errors (a bench that hangs is a failed bench, never a silent one).
    stuck: int = 0
    stuck_ops: dict[str, int] = field(default_factory=dict)  # what the stuck users were in
    stuck_longest_s: float = 0.0  # the longest of those operations, when cut off

    def inside(self, t: float) -> bool:
        return self.window[0] <= t < self.window[1]

    def error(self, t0: float, op: str, exc: BaseException) -> None:
        self.errors_total += 1
        if self.inside(t0):
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{op}: {type(exc).__name__}: {exc}"[:300])


class FlowError(Exception):
    """The service flow saw something wrong (e.g. its own write not visible)."""


@dataclass
class Sides:
    """Where a user's operations go and are recorded: one route, or with `turns` the direct
    (0) and the pooled (1) route in turns (`bench --compare-direct`)."""

    repos: list[BillRepository]
    recs: list[Recorder]
    turns: Turns | None = None
    inflight: tuple[str, float] | None = None  # the operation running now and its start

    def pick(self, t: float) -> int:
        return 0 if self.turns is None else self.turns.route(t)

    def record(self, side: int, op: str, t0: float, took: float) -> None:
        rec = self.recs[side]
        if rec.inside(t0):
            rec.latencies[op].append(took)
            rec.statements += 1  # every repository operation is one SQL statement
            if self.turns is not None:
                rec.by_turn.setdefault(self.turns.index(t0), []).append(took)

    def flow_done(self, spent: list[tuple[int, float]], flow_start: float) -> None:
        """A flow counts once, on its first operation's side; its time only when every
        operation took one route (a turn can end in the middle of a flow)."""
        rec = self.recs[spent[0][0]]
        rec.flows_total += 1
        if rec.inside(flow_start) and len({side for side, _ in spent}) == 1:
            rec.flows.append(sum(took for _, took in spent))


async def _timed(sides: Sides, think_s: float, op: str, spent: list[tuple[int, float]],
                 method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """`method` of the repository on the route of the moment, timed and recorded; then the
    user's think time."""
    t0 = time.monotonic()
    side = sides.pick(t0)
    rec = sides.recs[side]
    sides.inflight = (op, t0)
    try:
        result = await method(sides.repos[side], *args, **kwargs)
    except Exception as exc:
        rec.error(t0, op, exc)
        raise
    finally:
        rec.ops_total += 1
        sides.inflight = None
    took = time.monotonic() - t0
    sides.record(side, op, t0, took)
    spent.append((side, took))
    if think_s:
        await asyncio.sleep(think_s)
    return result


async def _flow(sides: Sides, think_s: float, rng: random.Random, uid: str, line: str,
                month: str, bill: dict) -> list[tuple[int, float]] | None:
    """One pass of the service flow; the time each step spent, or None when the request did
    not read back as completed (counted as a read-your-writes error)."""
    spent: list[tuple[int, float]] = []

    async def timed(op: str, method: Callable[..., Awaitable[Any]], *args: Any,
                    **kwargs: Any) -> Any:
        return await _timed(sides, think_s, op, spent, method, *args, **kwargs)

    rid = str(uuid.uuid4())
    await timed("customer_info", BillRepository.get_customer, line)
    t_req = await timed("create_request", BillRepository.create_request, rid, uid, line, month)
    kos = KosCall(rid, line, month, t_req, dt.datetime.now(dt.UTC), "0000", "OK",
                  {"elapsed_ms": rng.randrange(20, 400), "attempt": 1})
    await timed("record_kos", BillRepository.record_kos_call, kos)
    await timed("complete_request", BillRepository.complete_request, rid, uid, bill,
                f"{bill['total']} KRW")
    got = await timed("poll_request", BillRepository.get_request, rid, uid)
    if got is None or got.status != "COMPLETED" or got.bill_info != bill:
        exc = FlowError(f"request {rid} read back as "
                        f"{got.status if got else 'missing'} (read-your-writes)")
        sides.recs[spent[-1][0]].error(time.monotonic(), "poll_request", exc)
        return None
    await timed("history_page", BillRepository.history, [line], page_size=20, user_id=uid)
    if await timed("cache_get", BillRepository.get_cached_bill, line, month, uid) is None:
        await timed("cache_put", BillRepository.put_cached_bill, line, month, bill, uid)
    return spent


async def user_loop(sides: Sides, index: int, n_lines: int, think_s: float, stop_at: float,
                    seed: int) -> None:
    rng = random.Random(seed)
    uid, line = user_id(index), line_number(index % n_lines)
    month_choices = months(dt.date.today())
    bill_cache: dict[str, dict] = {}
    while time.monotonic() < stop_at:
        flow_start = time.monotonic()
        month = rng.choice(month_choices)
        bill = bill_cache.setdefault(month, bill_for(line, month, rng))
        try:
            spent = await _flow(sides, think_s, rng, uid, line, month, bill)
        except Exception:  # counted by _timed(); the user starts a new flow
            if think_s:
                await asyncio.sleep(think_s)
            continue
        if spent is not None:
            sides.flow_done(spent, flow_start)
