"""The plan's field types and the strict base model, shared by the plan's model modules."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from patroni.utils import parse_int
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_SIZE_RE = re.compile(r"^(\d+)(kB|MB|GB|TB)$")

MemSize = Annotated[
    str,
    Field(pattern=_SIZE_RE.pattern, description="a PostgreSQL size such as 64MB or 4GB"),
]
Identifier = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]
Port = Annotated[int, Field(ge=1024, le=65535)]
Pct = Annotated[float, Field(gt=0, le=100)]
# A time of day for schedules; seconds are optional (tests schedule a job seconds ahead).
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def size_bytes(size: str) -> int:
    """Bytes in a plan's size string ('64MB' -> 67108864); ValueError for anything else."""
    n = parse_int(size, "B") if _SIZE_RE.match(size) else None
    if n is None:
        raise ValueError(f"not a size: {size!r}")
    return n


def server_size_bytes(value: str | int | float, unit: str | None = None) -> int | None:
    """A size as a server shows it, in bytes: a bare number counts in `unit` (pg_settings'
    unit, '8kB' ...); None when it is no size. Both read with Patroni's parser, so billdb
    reads sizes as Patroni does."""
    value = str(value).strip()
    if unit and value.lstrip("-").replace(".", "", 1).isdigit():
        base = parse_int(unit, "B")
        return None if base is None else int(float(value) * base)
    return parse_int(value, "B")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _cidr(value: str) -> str:
    ipaddress.ip_network(value)  # ValueError names what is wrong; pydantic names the field
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
Uuid = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")]


def _time_zone(value: str) -> str:
    """An IANA zone name zoneinfo knows (what PostgreSQL's TimeZone and the scheduler take)."""
    import difflib
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (an IANA name such as Asia/Seoul)"
        raise ValueError(f"unknown time zone {value!r}{hint}") from None
    return value


_LOCALE_RE = re.compile(r"^(C|POSIX|C\.(UTF-8|utf8)|[a-z]{2,3}_[A-Z]{2}(\.(UTF-8|utf8))?"
                        r"(@[a-z]+)?)$")


def _locale(value: str) -> str:
    """A locale name as `locale -a` and Azure list them: C, POSIX or ll_CC[.UTF-8]."""
    if not _LOCALE_RE.match(value):
        raise ValueError(f"not a locale name: {value!r} (such as en_US.UTF-8, ko_KR.UTF-8, C)")
    return value


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
LocaleName = Annotated[str, AfterValidator(_locale)]
