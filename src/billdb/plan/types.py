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
    """Bytes in a PostgreSQL size string ('64MB' -> 67108864), read by Patroni's parser."""
    n = parse_int(size, "B") if _SIZE_RE.match(size) else None
    if n is None:
        raise ValueError(f"not a size: {size!r}")
    return n


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _cidr(value: str) -> str:
    ipaddress.ip_network(value)  # ValueError names what is wrong; pydantic names the field
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
Uuid = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")]
