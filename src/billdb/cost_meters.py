"""Which Azure Retail Prices meter each `billdb cost` price is, and where the price came from.

Microsoft's public Retail Prices API (https://prices.azure.com/api/retail/prices, no
authentication) has one meter per compute series and region: Dsv3 and Ddsv5 are different
meters, so the plan's table prices compute per series, never one rate for a tier. A price is
read from the cache `--refresh` wrote (the API's answer, with the date it was read) or else
from the plan's table (its `source` and `as_of`: remembered, not fetched).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from billdb.errors import PlanError
from billdb.plan.azure_models import PriceTable

SERVICE = "Azure Database for PostgreSQL"


@dataclass(frozen=True)
class Meter:
    key: str  # the plan table's entry, e.g. koreacentral.vcore_hour.Dsv3
    service: str
    product: str
    meter: str
    region: str
    unit: str
    price: float
    as_of: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def series(sku: str) -> str:
    """Standard_D4s_v3 -> Dsv3, Standard_D4ds_v5 -> Ddsv5, Standard_B2ms -> Bms."""
    m = re.fullmatch(r"Standard_([A-Z])\d+([a-z]*)(?:_(v\d))?", sku)
    if not m:
        raise PlanError(f"{sku!r}: not an Azure compute size (Standard_<family><n><flags>_v<n>)")
    return f"{m.group(1)}{m.group(2)}{m.group(3) or ''}"


_TIER = {"B": "Burstable", "D": "General Purpose", "E": "Memory Optimized"}
_PRODUCTS = {
    "storage_gb_month": (SERVICE, f"{SERVICE} Flexible Server Storage", "Storage Data Stored",
                         "1 GB/Month"),
    "backup_gb_month": (SERVICE, f"{SERVICE} Flexible Server Backup Storage",
                        "Backup Storage LRS Data Stored", "1 GB/Month"),
    "blob_gb_month": ("Storage", "General Block Blob v2", "Hot ZRS Data Stored", "1 GB/Month"),
}


def _cached(cache: dict[str, Any], key: str) -> tuple[float, str, str] | None:
    hit = (cache.get("prices") or {}).get(key)
    return (hit["price"], cache["read_on"], "Azure Retail Prices API") if hit else None


def compute(pt: PriceTable, region: str, sku: str, cache: dict[str, Any]) -> Meter:
    s = series(sku)
    key = f"{region}.vcore_hour.{s}"
    found = _cached(cache, key)
    if found is None:
        table = pt.regions[region].vcore_hour
        if s not in table:
            raise PlanError(f"cost.prices.regions.{region}.vcore_hour has no price for the "
                            f"{s} series ({sku}); each series is its own meter")
        found = (table[s], pt.as_of, pt.source)
    tier = _TIER.get(s[0], "?")
    return Meter(key, SERVICE, f"{SERVICE} Flexible Server {tier} {s} Series Compute",
                 "vCore", region, "1 Hour", *found)


def flat(pt: PriceTable, region: str, what: str, cache: dict[str, Any]) -> Meter:
    key = f"{region}.{what}"
    found = _cached(cache, key) or (getattr(pt.regions[region], what), pt.as_of, pt.source)
    service, product, meter, unit = _PRODUCTS[what]
    return Meter(key, service, product, meter, region, unit, *found)


def transfer(pt: PriceTable, region: str, direction: str, cache: dict[str, Any]) -> Meter:
    """Global VNet peering: billed on both sides, outbound at one end and inbound at the
    other."""
    key = f"{region}.peering_{direction}"
    found = _cached(cache, key) or (pt.inter_region_transfer_gb, pt.as_of, pt.source)
    return Meter(key, "Virtual Network", "Global Virtual Network Peering",
                 f"{'Outbound' if direction == 'out' else 'Inbound'} data transfer", region,
                 "1 GB", *found)
