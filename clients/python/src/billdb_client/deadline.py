"""One way to bound a wait: every public call of the client ends by its deadline, with a
DeadlineExceeded that says what it was waiting for (never a caller waiting forever)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from billdb_client.errors import DeadlineExceeded


@dataclass
class Deadline:
    """What a bounded block is waiting for now; the block updates it as it goes, so the
    error names the step that ran out of time."""

    seconds: float
    waiting_for: str
    outcome_unknown: bool = False  # a write was sent and its answer never came

    def now(self, waiting_for: str, outcome_unknown: bool = False) -> None:
        self.waiting_for = waiting_for
        self.outcome_unknown = outcome_unknown


@asynccontextmanager
async def bounded(seconds: float, waiting_for: str) -> AsyncIterator[Deadline]:
    """Run the block for at most `seconds`; past that it is cancelled and DeadlineExceeded
    raised, naming what the block last said it was waiting for (an inner deadline that ran
    out first keeps its own error)."""
    deadline = Deadline(seconds, waiting_for)
    timeout = asyncio.timeout(seconds)
    try:
        async with timeout:
            yield deadline
    except TimeoutError as exc:
        if not timeout.expired():  # the block's own TimeoutError, not this deadline
            raise
        raise DeadlineExceeded(deadline.waiting_for, seconds, deadline.outcome_unknown) \
            from exc
