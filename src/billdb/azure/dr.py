"""HA and DR on Azure: a planned HA failover (§2.2) and the replica's promotion (§9.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billdb.azure import apply as az_apply
from billdb.azure import sdk
from billdb.azure.clients import Clients
from billdb.azure.operations import PG_API
from billdb.errors import BilldbError
from billdb.plan.models import Plan

# What Azure does not carry over to a promoted replica, and what sets it again.
PROMOTION_DROPS = [
    {"what": "zone-redundant HA", "again": "set high_availability ZoneRedundant on the new "
     "primary (a replica has none)"},
    {"what": "geo-redundant backup", "again": "create-only: the new primary keeps locally "
     "redundant backup; a geo copy needs a new server created with it"},
    {"what": "the built-in PgBouncer", "again": "set pgbouncer.enabled=true (and its pool "
     "parameters) on the new primary"},
    {"what": "the read replica", "again": "create a new replica of the new primary"},
    {"what": "the alerts", "again": "they are scoped to the old primary: re-point them"},
]


def _call(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except sdk.http_error() as exc:
        raise BilldbError(f"Azure refused {what}: {az_apply.arm_message(exc)}") from None


def failover_model() -> Any:
    """POST .../restart: a restart with a planned failover to the standby zone."""
    return sdk.pg().RestartParameter(restart_with_failover=True,
                                     failover_mode="PlannedFailover")


def promote_model(forced: bool, switchover: bool) -> Any:
    """PATCH of the replica: replica.promoteMode / promoteOption (update-only)."""
    pg = sdk.pg()
    return pg.ServerForPatch(properties=pg.ServerPropertiesForPatch(replica=pg.Replica(
        promote_mode="Switchover" if switchover else "Standalone",
        promote_option="Forced" if forced else "Planned")))


def failover(plan: Plan, plan_path: Any) -> dict[str, Any]:
    """A planned HA failover: a restart with failover (the standby zone becomes primary)."""
    t, _ = az_apply.load(plan, plan_path)
    c = Clients(t)
    before = (c.read(t.server_id(), PG_API) or {}).get("properties", {})
    _call("the failover", lambda: c["pg"].servers.begin_restart(
        t.rg, plan.server.name, failover_model()).result())
    after = (c.read(t.server_id(), PG_API) or {}).get("properties", {})
    return {"ok": after.get("availabilityZone") != before.get("availabilityZone"),
            "server": plan.server.name, "zone_before": before.get("availabilityZone"),
            "zone_after": after.get("availabilityZone")}


def promote(plan: Plan, plan_path: Any, forced: bool, switchover: bool) -> dict[str, Any]:
    """§9.2 region failure: the Korea South replica becomes a read-write server."""
    t, _ = az_apply.load(plan, plan_path)
    c = Clients(t)
    mode, option = ("Switchover" if switchover else "Standalone"), (
        "Forced" if forced else "Planned")
    patch = promote_model(forced, switchover)
    _call("the promotion", lambda: c["pg"].servers.begin_update(
        t.rg, plan.read_replica.name, patch).result())
    role = ((c.read(t.replica_id, PG_API) or {}).get("properties") or {}).get("replicationRole")
    return {"ok": role == "Primary", "promoted": plan.read_replica.name, "mode": mode,
            "option": option, "role": role, "dropped": PROMOTION_DROPS,
            "next": "repoint the application's write route to the promoted server"}
