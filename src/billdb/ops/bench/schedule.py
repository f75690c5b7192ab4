"""Which route a bench operation takes in `bench --through-pooler --compare-direct`: straight
to the servers and through PgBouncer in turns of a few seconds over one run, in the order
direct, pooled, pooled, direct (ABBA). At any moment every user is on one route, so each
route carries the whole load, and what it costs the machine (planning, relaying) is measured
on it; a steady drift of the shared machine over the run weighs on both alike, where two runs
one after the other met different machines (two direct runs in a row differed by up to 2x in
p99 here). A short stall still lands on one route's turn: the report shows every turn's p99.

Not a coin toss per operation: both routes then share every moment's CPU, so a route's extra
work slows the other as much as itself (the pooled route without prepared statements came out
at 1.06 and 1.22 times direct that way, against 3.9 times run by itself). Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

DIRECT, POOLED = 0, 1
ROUTE_NAMES = ("direct", "through PgBouncer")
ORDER = (DIRECT, POOLED, POOLED, DIRECT)
WARMUP_TURNS = 2  # the two before the window: pooled, direct
TURN_S = 5.0  # about this long a turn: several think times, thousands of operations at 1,000


def turn_seconds(duration_s: float, target_s: float = TURN_S) -> float:
    """Turn length for `duration_s` measured on each route: whole ABBA groups over the run's
    2 x `duration_s`, each turn as near `target_s` as that allows."""
    groups = max(1, round(2 * duration_s / (len(ORDER) * target_s)))
    return 2 * duration_s / (len(ORDER) * groups)


@dataclass(frozen=True)
class Turns:
    """The turns of one run from the start of its measured window (a monotonic time). The
    order runs on backwards into the warm-up: two warm-up turns (pooled, then direct) bring
    each route to the full load before it is measured (PgBouncer opens its server connections,
    both routes' connections prepare their statements), so the first measured pooled turn
    follows ten seconds of direct ones like every other."""

    window_start: float
    turn_s: float

    def index(self, t: float) -> int:
        """The turn `t` falls in (negative in the warm-up)."""
        return math.floor((t - self.window_start) / self.turn_s)

    def route(self, t: float) -> int:
        return ORDER[self.index(t) % len(ORDER)]
