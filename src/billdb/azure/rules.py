"""What the SDK does not check on the client side, checked by billdb against the SDK's enum
classes and the plan's rules; each failure names the plan file's line (exit 2)."""

from __future__ import annotations

import re
from pathlib import Path

from billdb.azure import sdk
from billdb.errors import PlanError
from billdb.lint import azure_platform
from billdb.lint.yaml_rules import Lines
from billdb.plan.models import Plan

MIN_VERSION = 15  # 14 reached end of life on 2026-11-12 (src/billdb/data/postgres_eol.json)
# Flexible server compute families by tier (Azure docs: concepts-compute).
_SKU_TIER = [(r"^Standard_B\d", "Burstable"), (r"^Standard_D\d+a?d?s_v\d$", "GeneralPurpose"),
             (r"^Standard_E\d+a?d?s_v\d$", "MemoryOptimized")]


def sku_tier(sku: str) -> str | None:
    return next((tier for rx, tier in _SKU_TIER if re.match(rx, sku)), None)


def problems(plan: Plan, path: Path) -> list[str]:
    """Every rule the plan breaks, as `file:line: key: message`."""
    line, lim, out = Lines(path), azure_platform.limits(), []

    def bad(keys: tuple[str, ...], msg: str) -> None:
        out.append(f"{path}:{line(*keys) or 1}: {'.'.join(keys)}: {msg}")

    srv, bk, rr = plan.server, plan.backup, plan.read_replica
    if srv.postgres_version < MIN_VERSION:
        bad(("server", "postgres_version"), f"PostgreSQL {srv.postgres_version} is past end of "
            f"life; Azure flexible server needs {MIN_VERSION} or later here")
    tiers = sdk.enum_values("SkuTier")
    if srv.tier not in tiers:
        bad(("server", "tier"), f"{srv.tier!r} is not a tier; allowed: {', '.join(tiers)}")
    for keys, sku in ((("server", "sku"), srv.sku), (("read_replica", "sku"), rr.sku)):
        fam = sku_tier(sku)
        if fam is None:
            bad(keys, f"{sku!r} is not a flexible server compute size (Standard_B*, "
                "Standard_D*s_v*, Standard_E*s_v*)")
        elif fam != srv.tier:
            bad(keys, f"{sku} is a {fam} size, but server.tier is {srv.tier}")
    modes = sdk.enum_values("PostgreSqlFlexibleServerHighAvailabilityMode")
    if plan.ha.mode not in modes:
        bad(("ha", "mode"), f"{plan.ha.mode!r}; allowed: {', '.join(modes)}")
    elif plan.ha.mode != "Disabled" and srv.tier not in lim["ha_tiers"]:
        bad(("ha", "mode"), f"high availability is not offered on {srv.tier}")
    lo, hi = lim["backup_retention_days"]
    if not lo <= bk.retention_days <= hi:
        bad(("backup", "retention_days"), f"{bk.retention_days} days; Azure keeps {lo}-{hi}")
    for keys, gb in ((("server", "storage_gb"), srv.storage_gb),
                     (("read_replica", "storage_gb"), rr.storage_gb)):
        if gb not in lim["storage_gb"]:
            bad(keys, f"{gb} GB is not an Azure storage size: {lim['storage_gb']}")
    if rr.vcpu < srv.vcpu or rr.memory_gb < srv.memory_gb:
        bad(("read_replica", "sku"), f"{rr.sku} ({rr.vcpu} vCPU, {rr.memory_gb} GB) is smaller "
            f"than the primary's {srv.sku}: Azure requires a replica's compute to be at least "
            "the primary's (concepts-read-replicas)")
    if rr.storage_gb < srv.storage_gb:
        bad(("read_replica", "storage_gb"), "a replica needs at least the primary's storage")
    lo, hi = lim["max_connections"]
    if not lo <= plan.parameters.max_connections <= hi:
        bad(("parameters", "max_connections"), f"outside Azure's {lo}-{hi}")
    for lib in plan.parameters.shared_preload_libraries:
        if lib not in lim["shared_preload_libraries"]:
            bad(("parameters", "shared_preload_libraries"), f"{lib!r} is not allowed on Azure")
    az = plan.environments.prod.azure
    if az and az.private_dns_zone.startswith("privatelink."):
        bad(("environments", "prod", "azure", "private_dns_zone"), "privatelink.* is the "
            "Private Endpoint zone; a VNet-integrated server needs <name>.private.postgres."
            "database.azure.com")
    return out


def check(plan: Plan, path: Path) -> None:
    found = problems(plan, path)
    if found:
        raise PlanError("; ".join(found) if len(found) == 1 else
                        f"{len(found)} problems for Azure:\n" + "\n".join(found))
