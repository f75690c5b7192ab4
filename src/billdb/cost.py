"""`billdb cost`: the monthly estimate of the plan on Azure, from the plan's price table.

No price is fetched at run time: `cost.prices` in the plan records currency, date and source.
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

from billdb.errors import PlanError
from billdb.plan.models import Plan


def _line(component: str, monthly: float, basis: str, compute: bool,
          plan_item: str | None) -> dict[str, Any]:
    return {"component": component, "monthly": round(monthly, 2), "basis": basis,
            "compute": compute, "plan_item": plan_item}


def components(plan: Plan) -> list[dict[str, Any]]:
    pt = plan.cost.prices
    if pt is None:
        raise PlanError("cost.prices is missing: `billdb cost` needs the plan's price table")
    srv, rr, h = plan.server, plan.read_replica, pt.hours_per_month
    try:
        home, far = pt.regions[srv.region], pt.regions[rr.region]
    except KeyError as exc:
        raise PlanError(f"cost.prices.regions has no prices for {exc.args[0]}") from None
    rate, far_rate = home.vcore_hour[srv.tier], far.vcore_hour[srv.tier]
    a = pt.assumptions
    out = [
        _line("main server compute", srv.vcpu * rate * h,
              f"{srv.vcpu} vCores x {rate}/vCore-h x {h} h ({srv.sku})", True, "main server"),
        _line("main server storage", srv.storage_gb * home.storage_gb_month,
              f"{srv.storage_gb} GB x {home.storage_gb_month}/GB-month", False, "storage"),
    ]
    if plan.ha.mode != "Disabled":
        out += [
            _line("HA standby compute", srv.vcpu * rate * h,
                  f"{plan.ha.mode}: the standby's {srv.vcpu} vCores billed again", True, None),
            _line("HA standby storage", srv.storage_gb * home.storage_gb_month,
                  f"the standby's {srv.storage_gb} GB billed again", False, None),
        ]
    local, free = a.get("local_backup_gb", 0.0), float(srv.storage_gb)
    copies = 2 if plan.backup.geo_redundant else 1
    out += [
        _line("backup storage beyond the free amount",
              max(0.0, copies * local - free) * home.backup_gb_month,
              f"({copies} x {local:g} GB local backup - {free:g} GB free) x "
              f"{home.backup_gb_month}/GB-month"
              f"{' (geo-redundant: the paired copy doubles it)' if copies == 2 else ''}"
              "; backup size assumed", False, "backup storage"),
        _line("read replica compute", rr.vcpu * far_rate * h,
              f"{rr.vcpu} vCores x {far_rate}/vCore-h x {h} h in {rr.region} ({rr.sku})", True,
              "read replica"),
        _line("read replica storage", rr.storage_gb * far.storage_gb_month,
              f"{rr.storage_gb} GB x {far.storage_gb_month}/GB-month in {rr.region}", False,
              None),
        _line("cross-region transfer", a.get("replication_transfer_gb_month", 0.0)
              * pt.inter_region_transfer_gb,
              f"{a.get('replication_transfer_gb_month', 0):g} GB/month of WAL to {rr.region} x "
              f"{pt.inter_region_transfer_gb}/GB (assumed volume)", False, "networking"),
        _line("blob storage for logical dumps", a.get("dumps_stored_gb", 0.0)
              * home.blob_gb_month, f"{a.get('dumps_stored_gb', 0):g} GB x "
              f"{home.blob_gb_month}/GB-month (assumed size)", False, None),
    ]
    return out


def estimate(plan: Plan) -> dict[str, Any]:
    """Per-component figures, the reserved total, and the plan's §11.1 table beside them."""
    lines = components(plan)
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
                   "assumptions": pt.assumptions},
    }
