"""`billdb cost`: the monthly estimate of the plan on Azure, from the plan's price table.

Each price names its Azure Retail Prices meter and where it came from (billdb.cost_meters):
the cache `billdb cost --refresh` wrote from Microsoft's Retail Prices API, with the date it
was read, or else the plan's `cost.prices` table with its own source and date (not fetched).
The billing rules, as Microsoft documents them for flexible server (pages under
learn.microsoft.com/azure/postgresql/flexible-server/, read in MicrosoftDocs' sources):
- compute per vCore-hour (x hours_per_month, 730), storage per provisioned GB-month
  [pricing page, concepts-compute, concepts-storage];
- HA "doubles your deployment costs": the standby's compute and storage are billed again
  [how-to-cost-optimization, §4 "Evaluate HA and DR requirements"];
- backup storage up to 100 % of the provisioned storage is free; with geo-redundant backup the
  copy in the paired region doubles the size: billed = ((2 x local backup size) - provisioned
  storage) x price per GB-month [concepts-backup-restore, "Backup storage cost"];
- a geo read replica is another server: its compute and storage at its own region's prices
  ("GeoReadReplica for double the cost", how-to-cost-optimization §4), plus the WAL shipped
  between regions as inter-region data transfer [bandwidth pricing];
- reserved capacity discounts compute only: "A reservation doesn't cover software, networking,
  or storage charges" [concepts-reserved-pricing].
"""

from __future__ import annotations

from typing import Any

from billdb import cost_meters as cm
from billdb.errors import PlanError
from billdb.plan.azure_models import PriceTable
from billdb.plan.models import Plan


def _line(component: str, monthly: float, basis: str, compute: bool,
          plan_item: str | None, meters: list[cm.Meter]) -> dict[str, Any]:
    return {"component": component, "monthly": round(monthly, 2), "basis": basis,
            "compute": compute, "plan_item": plan_item, "meters": [m.as_dict() for m in meters]}


def _prices(plan: Plan) -> PriceTable:
    pt = plan.cost.prices
    if pt is None:
        raise PlanError("cost.prices is missing: `billdb cost` needs the plan's price table")
    for region in (plan.server.region, plan.read_replica.region):
        if region not in pt.regions:
            raise PlanError(f"cost.prices.regions has no prices for {region}")
    return pt


def meters(plan: Plan, cache: dict[str, Any] | None = None) -> dict[str, cm.Meter]:
    """Every meter the estimate reads, by role."""
    pt, c, srv, rr = _prices(plan), cache or {}, plan.server, plan.read_replica
    return {"compute": cm.compute(pt, srv.region, srv.sku, c),
            "replica_compute": cm.compute(pt, rr.region, rr.sku, c),
            "storage": cm.flat(pt, srv.region, "storage_gb_month", c),
            "replica_storage": cm.flat(pt, rr.region, "storage_gb_month", c),
            "backup": cm.flat(pt, srv.region, "backup_gb_month", c),
            "blob": cm.flat(pt, srv.region, "blob_gb_month", c),
            "peering_out": cm.transfer(pt, srv.region, "out", c),
            "peering_in": cm.transfer(pt, rr.region, "in", c)}


def components(plan: Plan, cache: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    pt, m = _prices(plan), meters(plan, cache)
    srv, rr, h, a = plan.server, plan.read_replica, pt.hours_per_month, pt.assumptions
    rate, far_rate = m["compute"].price, m["replica_compute"].price
    store, far_store = m["storage"].price, m["replica_storage"].price
    out = [
        _line("main server compute", srv.vcpu * rate * h,
              f"{srv.vcpu} vCores x {rate}/vCore-h x {h} h ({srv.sku})", True, "main server",
              [m["compute"]]),
        _line("main server storage", srv.storage_gb * store,
              f"{srv.storage_gb} GB x {store}/GB-month", False, "storage", [m["storage"]]),
    ]
    if plan.ha.mode != "Disabled":
        out += [
            _line("HA standby compute", srv.vcpu * rate * h,
                  f"{plan.ha.mode}: the standby's {srv.vcpu} vCores billed again", True, None,
                  [m["compute"]]),
            _line("HA standby storage", srv.storage_gb * store,
                  f"the standby's {srv.storage_gb} GB billed again", False, None,
                  [m["storage"]]),
        ]
    local, free = a.get("local_backup_gb", 0.0), float(srv.storage_gb)
    copies = 2 if plan.backup.geo_redundant else 1
    backup = m["backup"].price
    volume = a.get("replication_transfer_gb_month", 0.0)
    per_gb = m["peering_out"].price + m["peering_in"].price
    out += [
        _line("backup storage beyond the free amount",
              max(0.0, copies * local - free) * backup,
              f"({copies} x {local:g} GB local backup - {free:g} GB free) x "
              f"{backup}/GB-month"
              f"{' (geo-redundant: the paired copy doubles it)' if copies == 2 else ''}"
              "; backup size assumed", False, "backup storage", [m["backup"]]),
        _line("read replica compute", rr.vcpu * far_rate * h,
              f"{rr.vcpu} vCores x {far_rate}/vCore-h x {h} h in {rr.region} ({rr.sku})", True,
              "read replica", [m["replica_compute"]]),
        _line("read replica storage", rr.storage_gb * far_store,
              f"{rr.storage_gb} GB x {far_store}/GB-month in {rr.region}", False, None,
              [m["replica_storage"]]),
        _line("cross-region transfer (VNet peering)", volume * per_gb,
              f"{volume:g} GB/month of WAL to {rr.region} x ({m['peering_out'].price} out + "
              f"{m['peering_in'].price} in)/GB: peering is billed on both sides (assumed "
              "volume)", False, "networking", [m["peering_out"], m["peering_in"]]),
        _line("blob storage for logical dumps", a.get("dumps_stored_gb", 0.0) * m["blob"].price,
              f"{a.get('dumps_stored_gb', 0):g} GB x {m['blob'].price}/GB-month (assumed size)",
              False, None, [m["blob"]]),
    ]
    return out


def estimate(plan: Plan, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-component figures, the reserved total, and the plan's §11.1 table beside them."""
    lines = components(plan, cache)
    pt = plan.cost.prices
    assert pt is not None
    disc = pt.reserved_1y_discount_pct / 100
    total = sum(c["monthly"] for c in lines)
    compute = sum(c["monthly"] for c in lines if c["compute"])
    by_item = {i.component: i for i in plan.cost.items}
    for c in lines:
        item = by_item.get(c["plan_item"] or "")
        c["plan_monthly"] = item.monthly if item else None
    covered = {c["plan_item"] for c in lines}
    leaves_out = [f"{c['component']} ({c['monthly']:.2f} {pt.currency}/month)"
                  for c in lines if c["plan_item"] is None]
    leaves_out += [f"{i.component}: not a line billdb can price"
                   for i in plan.cost.items if i.component not in covered]
    return {
        "currency": pt.currency, "components": lines, "total_monthly": round(total, 2),
        "total_reserved_monthly": round(total - compute * disc, 2),
        "reserved_discount": f"{pt.reserved_1y_discount_pct:g} % on compute only",
        "plan": {"section": "§11.1", "items": [i.model_dump() for i in plan.cost.items],
                 "total_monthly": plan.cost.total_monthly,
                 "total_reserved_monthly": plan.cost.total_reserved_monthly},
        "difference_monthly": round(total - plan.cost.total_monthly, 2),
        "plan_leaves_out": leaves_out,
        "prices": {"source": pt.source, "as_of": pt.as_of, "regions": sorted(pt.regions),
                   "assumptions": pt.assumptions,
                   "fetched": sorted((cache or {}).get("prices") or {}),
                   "not_fetched": sorted({mm["key"] for c in lines for mm in c["meters"]
                                          if mm["source"] == pt.source})},
    }
