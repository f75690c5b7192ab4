"""When a job is due: a time of day in a time zone, every day or on one weekday. Pure.

Times are computed in the plan's zone (zoneinfo), so "02:00 Asia/Seoul" stays 02:00 there
whatever the machine's zone is, and returned in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billdb.errors import PlanError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlanError(f"unknown time zone {name!r}") from None


def clock(text: str) -> time:
    parts = [int(p) for p in text.split(":")]
    return time(*parts)


@dataclass(frozen=True)
class Slot:
    """Daily at `at` (HH:MM[:SS]) in `tz`, or only on `weekday`, or only on day `monthday` of
    the month, when given; with `every_min`, every that many minutes of the day from `at`'s
    place in the cycle (60 with at "00:05": hh:05 each hour)."""

    at: str
    tz: str
    weekday: str | None = None
    monthday: int | None = None
    every_min: int | None = None

    def _times(self) -> list[time]:
        at = clock(self.at)
        if not self.every_min:
            return [at]
        first = (at.hour * 60 + at.minute) % self.every_min
        return [time(m // 60, m % 60, at.second) for m in range(first, 1440, self.every_min)]

    def _on(self, day: date) -> bool:
        if self.weekday and WEEKDAYS[day.weekday()] != self.weekday:
            return False
        return self.monthday is None or day.day == self.monthday

    def _horizon(self) -> int:
        return 63 if self.monthday else 9

    def next_after(self, now: datetime) -> datetime:
        """The first occurrence strictly after `now` (an aware datetime), in UTC."""
        tz = zone(self.tz)
        local = now.astimezone(tz)
        for days in range(0, self._horizon()):
            day = local.date() + timedelta(days=days)
            for at in self._times():
                cand = datetime.combine(day, at, tzinfo=tz)
                if self._on(day) and cand > local:
                    return cand.astimezone(UTC)
        raise AssertionError("a weekly or monthly slot always occurs within 62 days")

    def previous_before(self, now: datetime) -> datetime:
        """The last occurrence at or before `now`, in UTC."""
        tz = zone(self.tz)
        local = now.astimezone(tz)
        for days in range(0, self._horizon()):
            day = local.date() - timedelta(days=days)
            for at in reversed(self._times()):
                cand = datetime.combine(day, at, tzinfo=tz)
                if self._on(day) and cand <= local:
                    return cand.astimezone(UTC)
        raise AssertionError("a weekly or monthly slot always occurred within 62 days")

    @property
    def period(self) -> timedelta:
        if self.every_min:
            return timedelta(minutes=self.every_min)
        return timedelta(days=31 if self.monthday else 7 if self.weekday else 1)

    def describe(self) -> str:
        if self.every_min:
            return f"every {self.every_min} min from {self.at} {self.tz}"
        when = (f"monthly on day {self.monthday}" if self.monthday
                else f"{self.weekday}s" if self.weekday else "daily")
        return f"{when} at {self.at} {self.tz}"
