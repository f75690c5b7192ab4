"""The figures the budget and target rules need, from a YAML plan or a Markdown document.

Both kinds of plan are reduced to these facts, each remembering where it was read, so the
same rules judge both and every finding cites the right section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from billdb.plan.budget import Connections


@dataclass(frozen=True)
class Fact:
    value: float | str
    section: str
    line: int | None = None
    where: str = ""  # e.g. "parameters.work_mem" or "HikariCP Pool Size"

    @property
    def num(self) -> float:
        return float(self.value)


@dataclass
class Facts:
    azure: bool
    params: dict[str, Fact] = field(default_factory=dict)
    ram_gb: Fact | None = None
    replica_ram_gb: Fact | None = None
    pool_size: Fact | None = None
    pods: Fact | None = None
    # A plan file's connection figures per target ("prod: ", "local environment: "); a
    # document has none and is counted from pool_size and pods.
    connections: list[tuple[str, Connections]] = field(default_factory=list)
    pooler_section: str | None = None
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


def gib(n: float) -> str:
    return f"{n / 1024**3:.2f} GB"
