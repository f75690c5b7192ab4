"""The connection budget: can every server take the connections the plan sends it? Pure.

Each service pod runs one billdb.client (BillDB) with three pools of `pool.size`: write and
primary_read on the primary, replica on the read replica. Directly, 15 pods x 15 x 2 = 450
connections would reach a primary that allows 200 (the seed's own count, 15 x 15 = 225, is
already over). Through the pooler the pods are PgBouncer's clients (limited by
max_client_conn) and each server sees only the pooler's server connections
(default_pool_size + reserve_pool_size, capped per database), plus what bypasses the pooler:
billdb's administrator, backups and monitoring (admin_reserved_connections), PostgreSQL's
superuser_reserved_connections and the standbys' WAL senders (counted although PostgreSQL 12+
gives them their own slots, to keep headroom).
"""

from __future__ import annotations

from dataclasses import dataclass

from billdb.plan.models import Plan
from billdb.render.pgbouncer import server_pool

CLIENT_POOLS = 3  # BillDB.open(): write, primary_read, replica
PRIMARY_POOLS = 2  # write and primary_read
SUPERUSER_RESERVED = 3  # PostgreSQL's default superuser_reserved_connections


@dataclass(frozen=True)
class Budget:
    name: str
    limit_name: str
    limit: int
    terms: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(v for _, v in self.terms)

    @property
    def ok(self) -> bool:
        return self.total <= self.limit

    def describe(self) -> str:
        parts = " + ".join(f"{v} {k}" for k, v in self.terms)
        return f"{parts} = {self.total} {'<=' if self.ok else '>'} {self.limit_name} {self.limit}"


def budgets(plan: Plan, standbys: int, has_replica: bool = True) -> list[Budget]:
    pods, size = plan.service.max_pods, plan.pool.size
    pooled = plan.pooler.enabled
    admin = plan.pooler.admin_reserved_connections
    maxc = plan.parameters.max_connections
    out = []
    if pooled:
        out.append(Budget("pooler_clients", "pooler.max_client_conn", plan.pooler.max_client_conn,
                          ((f"client connections ({pods} pods x {size} x {CLIENT_POOLS} pools)",
                            pods * size * CLIENT_POOLS),)))
        app_primary = ("pooler server connections (pool + reserve)", server_pool(plan))
        app_replica = app_primary
    else:
        app_primary = (f"direct ({pods} pods x {size} x {PRIMARY_POOLS} pools)",
                       pods * size * PRIMARY_POOLS)
        app_replica = (f"direct ({pods} pods x {size})", pods * size)
    common = (("admin reserve", admin), ("superuser reserved", SUPERUSER_RESERVED))
    out.append(Budget("primary", "max_connections", maxc,
                      (app_primary, *common, ("replication (WAL senders)", standbys))))
    if has_replica:
        out.append(Budget("replica", "max_connections", maxc, (app_replica, *common)))
    return out
