"""The figures the budget and target rules need, from a YAML plan or a Markdown document.

Both kinds of plan are reduced to these facts, each remembering where it was read, so the
same rules judge both and every finding cites the right section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB)?\s*$")
_UNIT = {"B": 1, "kB": 1024, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass(frozen=True)
class Fact:
    value: float | str
    section: str
    line: int | None = None
    where: str = ""  # e.g. "parameters.work_mem" or "HikariCP Pool Size"

    @property
    def num(self) -> float:
        return float(self.value)


@dataclass(frozen=True)
class PoolerFacts:
    default_pool_size: int
    reserve_pool_size: int
    max_client_conn: int
    admin_reserved: int
    pools: int  # (database, user) pairs the application opens on the primary
    section: str


@dataclass
class Facts:
    azure: bool
    params: dict[str, Fact] = field(default_factory=dict)
    ram_gb: Fact | None = None
    replica_ram_gb: Fact | None = None
    pool_size: Fact | None = None
    pods: Fact | None = None
    pooler: PoolerFacts | None = None
    pooler_mentioned: bool = False
    availability_target: Fact | None = None
    sla: Fact | None = None
    promised: list[Fact] = field(default_factory=list)  # availability the text guarantees
    rto_min: Fact | None = None
    rpo_min: Fact | None = None
    pitr_granularity_min: Fact | None = None
    archive_timeout_s: Fact | None = None
    failover_s: Fact | None = None
    connection_alert: Fact | None = None


def size_bytes(value: str, unit: str | None) -> float | None:
    """A memory setting in bytes; a bare number counts in the setting's own unit (8kB...)."""
    m = _SIZE.match(str(value))
    if not m:
        return None
    amount = float(m.group(1))
    if m.group(2):
        return amount * _UNIT[m.group(2)]
    if unit:
        um = re.match(r"^(\d*)(B|kB|MB|GB|TB)$", unit)
        if um:
            return amount * int(um.group(1) or 1) * _UNIT[um.group(2)]
    return amount


def gib(n: float) -> str:
    return f"{n / 1024**3:.2f} GB"
