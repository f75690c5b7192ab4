"""The one waiting primitive: poll until something holds, or retry until a call succeeds.

The synchronous two run on Patroni's own loop (patroni.utils.polling_loop), in plain
signatures so call sites read the same everywhere; asyncio code has wait_until_async.
(Patroni's Retry class was not used: it logs each failure through Patroni's logger and
replaces the caller's exception with RetryFailedError.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from patroni.utils import polling_loop

T = TypeVar("T")


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.2) -> bool:
    """True as soon as `predicate()` is truthy; False once `timeout` seconds have passed
    (the predicate is asked once more at the end, so a zero timeout still looks once)."""
    for _ in polling_loop(timeout, interval):
        if predicate():
            return True
    return bool(predicate())


async def wait_until_async(predicate: Callable[[], object], timeout: float,
                           interval: float = 0.25) -> bool:
    """wait_until for asyncio code: it sleeps with asyncio (polling_loop's time.sleep would
    stall the event loop, and with it a drill's writer that must keep committing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


class PollTimeout(Exception):
    """`poll` ran out of time; `last` is what the last look saw (a value or an exception)."""

    def __init__(self, seconds: float, last: object) -> None:
        super().__init__(f"not within {seconds:g} s; last: {last}")
        self.seconds, self.last = seconds, last


def poll(func: Callable[[], T], timeout: float, interval: float = 0.2, *,
         until: Callable[[T], object] = bool,
         on: type[BaseException] | tuple[type[BaseException], ...] = ()) -> T:
    """Call `func()` until `until(value)` holds and return that value. An exception of type
    `on` counts as one more look; any other reaches the caller at once. After `timeout`
    seconds, PollTimeout carries the last value (or the last `on` exception)."""
    last: object = None
    for _ in polling_loop(timeout, interval):
        try:
            value = func()
        except on as exc:
            last = exc
            continue
        if until(value):
            return value
        last = value
    raise PollTimeout(timeout, last)


def retry(func: Callable[[], T], timeout: float, interval: float = 0.2,
          on: type[BaseException] | tuple[type[BaseException], ...] = Exception) -> T:
    """`func()`'s result, calling it again every `interval` seconds after an exception of
    type `on`, for up to `timeout` seconds; then one last call whose exception (the real
    failure, not a generic "retries exhausted") reaches the caller."""
    for _ in polling_loop(timeout, interval):
        try:
            return func()
        except on:
            continue
    return func()
