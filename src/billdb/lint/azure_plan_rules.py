"""The plan file against the platform's documented rules (the YAML twin of azure_rules):
replica compute, the documented failover time, the reservation arithmetic of §11.1. Each
finding cites the Microsoft Learn page it comes from."""

from __future__ import annotations

from collections.abc import Callable

from billdb.lint.azure_rules import DOCS
from billdb.lint.findings import Finding
from billdb.plan.models import Plan

AZURE_FAILOVER_S = (60, 120)  # documented for zone-redundant HA


def findings(plan: Plan, line: Callable[..., int | None]) -> list[Finding]:
    out: list[Finding] = []
    srv, rr = plan.server, plan.read_replica
    if rr.vcpu < srv.vcpu or rr.memory_gb < srv.memory_gb:
        out.append(Finding(
            "azure.replica_compute", "error", "§7.1", f"read_replica {rr.sku} is smaller than "
            f"the primary's {srv.sku}: Azure requires at least the primary's compute "
            f"[Microsoft: {DOCS}concepts-read-replicas]", f"read_replica.sku: {srv.sku}",
            line("read_replica", "sku"), "data"))
    lo, hi = AZURE_FAILOVER_S
    if plan.ha.failover_target_s < hi:
        out.append(Finding(
            "azure.failover_time", "warning", "§2.2", f"ha.failover_target_s "
            f"{plan.ha.failover_target_s}: Azure documents {lo}-{hi} s for a zone-redundant "
            f"failover [Microsoft: {DOCS}concepts-business-continuity]", "hold Azure to "
            f"{hi} s; the local stand-in's drill measures its own", line("ha",
                                                                          "failover_target_s"),
            "data"))
    out += _reserved(plan, line)
    return out


def _reserved(plan: Plan, line: Callable[..., int | None]) -> list[Finding]:
    c = plan.cost
    if c.prices is None:
        return []
    pct = c.prices.reserved_1y_discount_pct
    compute = sum(i.monthly for i in c.items if i.spec.startswith("Standard_"))
    right = c.total_monthly - compute * pct / 100
    if abs(c.total_reserved_monthly - right) < 1:
        return []
    return [Finding(
        "azure.reserved_compute_only", "warning", "§11.1", f"cost.total_reserved_monthly "
        f"{c.total_reserved_monthly:g} takes {pct:g} % off the whole {c.total_monthly:g}; a "
        f"reservation covers compute only ({compute:g}): {right:g} "
        f"[Microsoft: {DOCS}concepts-reserved-pricing]", f"total_reserved_monthly: {right:g}",
        line("cost", "total_reserved_monthly"), "data")]
