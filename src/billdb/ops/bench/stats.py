"""Latency summaries. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def summary(latencies_s: list[float], *pcts: float) -> dict[str, float | None]:
    values = sorted(latencies_s)
    return {f"p{int(p) if p == int(p) else p}_ms": ms(percentile(values, p)) for p in pcts}
