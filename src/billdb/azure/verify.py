"""`azure verify`: read the servers, parameters, network, alerts and database back and
compare them with the plan's bodies (the same diff `apply` repairs). Never writes.
Check ids and sections follow the local `verify` where they mean the same (param.NAME,
db.exists); the Azure-only resources get their own (network.*, alert.*, ...)."""

from __future__ import annotations

from typing import Any

from billdb.azure import apply as az_apply
from billdb.azure import database as az_database
from billdb.azure import sdk
from billdb.azure.clients import Clients
from billdb.azure.operations import PG_API, Operation
from billdb.converge.core import Check, equal
from billdb.errors import BilldbError
from billdb.plan.models import Plan

_IDS = {"subnet": ("network.subnet.{label}", "§3.1 network"),
        "network_security_group": ("network.nsg.{label}", "§3.2 security"),
        "vnet_peering": ("network.peering.{label}", "§7.1 read replica"),
        "log_workspace": ("logs.workspace", "§8.2 logs"),
        "private_endpoint": ("backup.logical_path.private_endpoint", "§9.1 backup"),
        "private_endpoint_dns": ("backup.logical_path.private_endpoint_dns", "§9.1 backup"),
        "diagnostic_setting": ("logs.diagnostic.{label}", "§8.2 logs"),
        "private_dns_zone": ("network.private_dns_zone", "§3.1 network"),
        "private_dns_link": ("network.dns_link.{label}", "§3.1 network"),
        "server": ("server.settings", "§2.1 server"),
        "maintenance_window": ("server.maintenance_window", "§9.1 maintenance window"),
        "entra_admin": ("security.entra_admin", "§3.3 Microsoft Entra"),
        "parameter": ("param.{label}", "§5.1 parameters"),
        "database": ("db.exists", "§4.1 database"),
        "replica": ("replica.settings", "§7 read replica"),
        "storage_account": ("backup.logical_storage", "§9.1 backup"),
        "blob_container": ("backup.logical_container", "§9.1 backup"),
        "lifecycle_policy": ("backup.logical_retention", "§9.1 backup"),
        "action_group": ("alert.action_group", "§8.1 monitoring"),
        "metric_alert": ("alert.{label}", "§8.1 monitoring")}


def _check(op: Operation, clients: Clients) -> Check:
    pattern, section = _IDS[op.kind]
    cid = pattern.format(label=op.key.split(".", 1)[-1])
    if op.key.startswith("dumps."):  # the dumps' network path (§9.1)
        cid, section = f"backup.logical_path.{op.key.split('.', 1)[1]}", "§9.1 backup"
    try:
        seen = az_apply.observe(op, clients)
    except BilldbError as exc:  # a create-only setting differs: a failed check, not a crash
        return Check(cid, section, "as planned", str(exc).split(": ", 1)[-1], False)
    if seen["action"] == "create":
        actual, ok = "missing", False
    else:
        ok = seen["action"] == "none"
        actual = "as planned" if ok else "; ".join(
            f"{c['field']}={c['found']!r}" for c in seen["changes"])
    expected = "as planned"
    if op.kind == "parameter":
        expected = (op.body() or {})["properties"]["value"]
    return Check(cid, section, expected, actual, ok)


def _peering_state(op: Operation, clients: Clients) -> Check:
    state = ((clients.read(op.resource_id, op.api_version) or {}).get("properties")
             or {}).get("peeringState")
    return equal(f"network.peering_state.{op.key.split('.', 1)[1]}", "§7.1 read replica",
                 "Connected", state)


def replica_role(plan: Plan) -> str:
    """The spec's role for the replica: GeoAsyncReplica when it is in another region."""
    same = plan.read_replica.region.lower() == plan.server.region.lower()
    return "AsyncReplica" if same else "GeoAsyncReplica"


def verify(plan: Plan, plan_path: Any) -> dict[str, Any]:
    t, ops = az_apply.load(plan, plan_path)
    clients = Clients(t)
    try:
        checks = [_check(op, clients) for op in ops if not op.action]
        checks += [_peering_state(op, clients) for op in ops if op.kind == "vnet_peering"]
        pending = az_apply._restart_pending(ops, clients, set())
        srv = clients.read(t.server_id(), PG_API) or {}
        rep = clients.read(t.replica_id, PG_API) or {}
    except sdk.http_error() as exc:
        raise BilldbError(f"reading Azure failed: {az_apply.arm_message(exc)}") from None
    ha = (srv.get("properties") or {}).get("highAvailability") or {}
    role = (rep.get("properties") or {}).get("replicationRole")
    checks += [
        equal("param.pending_restart", "§5.1 parameters", "none",
              "a restart is pending" if pending else "none"),
        equal("ha.state", "§2.2 HA", "Healthy", ha.get("state")),
        equal("replica.role", "§7 read replica", replica_role(plan), role),
    ]
    out = [c.as_dict() for c in checks]  # one Check type, as the local verify
    if az_database.wanted():
        out += az_database.checks(t)
    return {"ok": all(c["ok"] for c in out), "target": t.server_id(), "checks": out}
