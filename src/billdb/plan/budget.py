"""The one budget model: can each server, and the pooler, take what the plan sends them? Pure.

`plan lint` (on the plan or on a plan document), `verify` and `up` all count here, so they
cannot disagree. The count (README, "The connection budget"):

- Each service pod runs one client with `client_pools` pools of `pool.size`. billdb.client
  (BillDB) opens three: write and primary_read on the primary, replica on the read replica.
- Through the pooler every pool is a PgBouncer client: pods x client_pools x pool.size <=
  pooler.max_client_conn. Each PgBouncer database caps what it opens to its server at
  default_pool_size + reserve_pool_size (max_db_connections); the primary can carry both
  databases (the read database falls back to the primary when the replica is down), the
  replica one.
- Without the pooler the pods' pools reach the servers directly: pods x primary pools x
  pool.size on the primary, pods x the other pools x pool.size on the replica.
- On top, on each server: billdb's administrator, backups and monitoring
  (pooler.admin_reserved_connections), PostgreSQL's superuser_reserved_connections (on Azure:
  the 15 the platform keeps) and, on the primary, one WAL sender per standby (counted although
  PostgreSQL 12+ gives WAL senders their own slots, to keep headroom). Sum <= max_connections.

The memory budget is shared_buffers + max_connections x work_mem + autovacuum workers x
maintenance_work_mem against the server's RAM.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from billdb.errors import PlanError
from billdb.plan.models import Plan
from billdb.plan.types import server_size_bytes

CLIENT_POOLS = 3  # BillDB.open(): write, primary_read, replica
PRIMARY_POOLS = 2  # write and primary_read
POOLER_DATABASES_ON_PRIMARY = 2  # <db> always, <db>_read when the replica is down
SUPERUSER_RESERVED = 3  # PostgreSQL's default superuser_reserved_connections
AZURE_RESERVED = 15  # Azure keeps 15 connections for replication and monitoring
TIGHT = 0.80  # above this share of RAM, the OS and its page cache are squeezed


@dataclass(frozen=True)
class Budget:
    """One limit and the terms that must fit under it; `field` is what to change if not."""

    name: str  # pooler_clients | primary | replica
    limit_name: str
    limit: int
    terms: tuple[tuple[str, int], ...]
    field: str

    @property
    def total(self) -> int:
        return sum(v for _, v in self.terms)

    @property
    def ok(self) -> bool:
        return self.total <= self.limit

    def describe(self) -> str:
        parts = " + ".join(f"{v} {k}" for k, v in self.terms)
        return f"{parts} = {self.total} {'<=' if self.ok else '>'} {self.limit_name} {self.limit}"


@dataclass(frozen=True)
class PoolerLimits:
    default_pool_size: int
    reserve_pool_size: int
    max_client_conn: int

    @property
    def server_pool(self) -> int:
        """Server connections one PgBouncer database opens to its server (max_db_connections,
        whatever the number of users)."""
        return self.default_pool_size + self.reserve_pool_size


@dataclass(frozen=True)
class Connections:
    """Every figure the connection budget needs, from a plan or a plan document."""

    pods: int
    pool_size: int
    max_connections: int
    pooler: PoolerLimits | None
    admin_reserved: int = 0
    standbys: int = 0  # WAL senders on the primary
    has_replica: bool = True
    reserved: int = SUPERUSER_RESERVED
    reserved_label: str = "superuser reserved"
    client_pools: int = CLIENT_POOLS
    primary_pools: int = PRIMARY_POOLS
    client_label: str = "pools"


def connection_budgets(c: Connections) -> list[Budget]:
    """The pooler's client budget (with a pooler) and one budget per server."""
    out = []
    reserves = ((f"{c.reserved_label}", c.reserved),)
    if c.admin_reserved:
        reserves = (("admin reserve", c.admin_reserved), *reserves)
    if c.pooler:
        clients = c.pods * c.pool_size * c.client_pools
        out.append(Budget(
            "pooler_clients", "pooler.max_client_conn", c.pooler.max_client_conn,
            ((f"client connections ({c.pods} pods x {c.pool_size} x {c.client_pools} "
              f"{c.client_label})", clients),), "service.max_pods"))
        sp = c.pooler.server_pool
        n = POOLER_DATABASES_ON_PRIMARY
        primary = (f"pooler server connections ({n} databases x (pool + reserve) {sp})", n * sp)
        replica = (f"pooler server connections (1 database x (pool + reserve) {sp})", sp)
        field = "pooler.default_pool_size"
    else:
        on_primary = min(c.primary_pools, c.client_pools)
        primary = (f"direct ({c.pods} pods x {c.pool_size} x {on_primary} {c.client_label})",
                   c.pods * c.pool_size * on_primary)
        rest = c.client_pools - on_primary
        replica = (f"direct ({c.pods} pods x {c.pool_size} x {rest} {c.client_label})",
                   c.pods * c.pool_size * rest)
        if not c.has_replica:  # the replica's pools fall back to the primary
            primary = (f"direct ({c.pods} pods x {c.pool_size} x {c.client_pools} "
                       f"{c.client_label})", c.pods * c.pool_size * c.client_pools)
        field = "service.max_pods"
    wal = (("replication (WAL senders)", c.standbys),) if c.standbys else ()
    out.append(Budget("primary", "max_connections", c.max_connections,
                      (primary, *reserves, *wal), field))
    if c.has_replica and replica[1]:
        out.append(Budget("replica", "max_connections", c.max_connections,
                          (replica, *reserves), field))
    return out


def plan_connections(plan: Plan, target: str = "local") -> Connections:
    """The plan's figures on a target: `local` (environments.local.members) or `prod`
    (Azure: the HA standby and the read replica; Azure's 15 reserved connections)."""
    p = plan.pooler
    base = Connections(
        pods=plan.service.max_pods, pool_size=plan.pool.size,
        max_connections=plan.parameters.max_connections,
        pooler=PoolerLimits(p.default_pool_size, p.reserve_pool_size, p.max_client_conn)
        if p.enabled else None,
        admin_reserved=p.admin_reserved_connections)
    if target == "prod":
        return replace(base, standbys=0, has_replica=True, reserved=AZURE_RESERVED,
                       reserved_label="Azure reserved (replication, monitoring)")
    members = plan.environments.local.members
    return replace(base, standbys=len(members) - 1,
                   has_replica=any(m.kind == "replica" for m in members))


def for_members(plan: Plan, standbys: int, has_replica: bool) -> list[Budget]:
    """The plan's budgets on the members that are actually there (verify)."""
    return connection_budgets(replace(plan_connections(plan, "local"), standbys=standbys,
                                      has_replica=has_replica))


def failing(plan: Plan, target: str = "local") -> list[Budget]:
    return [b for b in connection_budgets(plan_connections(plan, target)) if not b.ok]


def max_pods(c: Connections) -> int:
    """The largest pod count whose every budget holds (0 if none does)."""
    lo, hi = 0, 100_000
    while lo < hi:
        mid = (lo + hi + 1) // 2
        ok = all(b.ok for b in connection_budgets(replace(c, pods=mid)))
        lo, hi = (mid, hi) if ok else (lo, mid - 1)
    return lo


# --- memory ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Memory:
    shared_buffers: int
    work_mem: int
    maintenance_work_mem: int
    max_connections: int
    autovacuum_workers: int
    ram: int

    @property
    def per_connection(self) -> int:
        return self.max_connections * self.work_mem

    @property
    def total(self) -> int:
        return (self.shared_buffers + self.per_connection
                + self.autovacuum_workers * self.maintenance_work_mem)

    @property
    def over(self) -> bool:
        return self.total > self.ram

    @property
    def tight(self) -> bool:
        return self.total > self.ram * TIGHT

    def describe(self) -> str:
        mb = 1024**2
        return (f"shared_buffers {self.shared_buffers // mb}MB + max_connections "
                f"{self.max_connections} x work_mem {self.work_mem // mb}MB + "
                f"{self.autovacuum_workers} autovacuum workers x maintenance_work_mem "
                f"{self.maintenance_work_mem // mb}MB = {self.total // mb}MB "
                f"({self.total / self.ram:.0%}) {'>' if self.over else '<='} RAM "
                f"{self.ram // mb}MB")

    def work_mem_fit_mb(self) -> int:
        """The largest work_mem (MB) that keeps the worst case under TIGHT of RAM."""
        room = self.ram * TIGHT - self.shared_buffers - self.autovacuum_workers * \
            self.maintenance_work_mem
        return max(1, int(room / self.max_connections / 1024**2))


def memory(settings: dict[str, str], ram_bytes: int, autovacuum_workers: int = 3) -> Memory:
    """The worst case of these settings ('4GB', '200'...) against `ram_bytes`."""
    def b(name: str) -> int:
        return server_size_bytes(settings[name]) or 0

    return Memory(b("shared_buffers"), b("work_mem"), b("maintenance_work_mem"),
                  int(settings["max_connections"]), autovacuum_workers, ram_bytes)


def plan_memory(plan: Plan, autovacuum_workers: int = 3) -> Memory:
    """The plan's own figures against server.memory_gb."""
    p = plan.parameters
    return memory({"shared_buffers": p.shared_buffers, "work_mem": p.work_mem,
                   "maintenance_work_mem": p.maintenance_work_mem,
                   "max_connections": str(p.max_connections)},
                  plan.server.memory_gb * 1024**3, autovacuum_workers)


def refuse_unless_held(plan: Plan) -> None:
    """`up` refuses (exit 2, naming the plan field) a plan whose budget cannot hold: the
    worst case of its memory settings exceeds the server's RAM, or PgBouncer or PostgreSQL
    would turn clients away on the local environment."""
    mem = plan_memory(plan)
    if mem.over:
        raise PlanError(f"plan: the memory budget does not hold (budget.memory): "
                        f"{mem.describe()}; lower parameters.work_mem to at most "
                        f"{mem.work_mem_fit_mb()}MB or raise server.memory_gb; "
                        "`billdb plan lint` explains")
    bad = failing(plan, "local")
    if bad:
        b = bad[0]
        fit = max_pods(plan_connections(plan, "local"))
        hint = f" (at most {fit} pods fit)" if b.field == "service.max_pods" else ""
        raise PlanError(f"plan: the connection budget does not hold (budget.{b.name}): "
                        f"{b.describe()}; change {b.field}{hint} or {b.limit_name}; "
                        "`billdb plan lint` explains")
