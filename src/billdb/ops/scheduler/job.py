"""What a scheduled job is. A leaf module: features that define jobs import it, and the one
list of jobs (billdb.ops.scheduler.jobs) imports the features, so no import runs in a circle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from billdb.context import Context
from billdb.ops.scheduler.calendar import Slot


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    slot: Slot
    run: Callable[[Context, datetime], str]  # (ctx, the slot time it runs for) -> detail
    section: str = ""


Provider = Callable[[Context], list[Job]]
