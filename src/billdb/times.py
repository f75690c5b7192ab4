"""One rule for times, in and out.

In: every time argument (`restore --time`, `alerts --since`, `partitions list --at`, ...) goes
through `parse`: ISO 8601, and a time without an offset is in the plan's time zone
(`database.timezone`). `--since` also takes a duration back from now (30m, 2h, 1d).

Out: `for_people` (ISO 8601 with the offset, to the second, in the plan's zone) for text, and
`for_json` (ISO 8601 in UTC, +00:00) for --json. Nothing else prints a time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from billdb.errors import ArgumentError

# What each --help says about a time argument.
HELP = "ISO 8601; a time without an offset is in the plan's time zone (database.timezone)"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# An ISO 8601 time with an offset or Z, as the engines and older billdb files write them.
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$")


def parse(text: str, zone: str, option: str = "--time", now: datetime | None = None,
          durations: bool = False) -> datetime:
    """An aware UTC datetime from an option's text. Naive: in `zone`."""
    value = text.strip()
    m = _DURATION.match(value) if durations else None
    if m:
        return (now or datetime.now(UTC)) - timedelta(seconds=int(m[1]) * _UNITS[m[2]])
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        also = " or a duration like 30m, 2h, 1d" if durations else ""
        raise ArgumentError(f"{option} {text!r}: not an ISO 8601 time such as "
                            f"2026-12-06T14:03:05+09:00{also}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(zone))
    return t.astimezone(UTC)


def coerce(value: object) -> datetime | None:
    """A datetime from a datetime or an ISO string with an offset; None for anything else."""
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if isinstance(value, str) and ISO_RE.match(value):
        try:
            return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1",
                                                 value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def for_people(t: datetime, zone: str) -> str:
    """2026-12-06T17:07:59+09:00: the plan's zone, whole seconds."""
    return t.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")


def for_json(t: datetime) -> str:
    """2026-12-06T08:07:59.001844+00:00: UTC, as precise as known."""
    return t.astimezone(UTC).isoformat()


def duration(seconds: float) -> str:
    """1m 20s, 2h 5m, 3d 4h, 450 ms: two units at most, never negative."""
    s = max(0.0, seconds)
    if s == 0:
        return "0 s"
    if s < 1:
        return f"{round(s * 1000)} ms"
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{round(s)} s"
    whole = round(s)
    parts = [(whole // 86400, "d"), (whole % 86400 // 3600, "h"), (whole % 3600 // 60, "m"),
             (whole % 60, "s")]
    first = next(i for i, (n, _) in enumerate(parts) if n)
    return " ".join(f"{n}{u}" for n, u in parts[first:first + 2] if n)


def size(n: int | float) -> str:
    """Bytes for people: 3.1 MiB, 512 B; whole (never cut), binary units."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover
