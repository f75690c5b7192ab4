"""The double's resource store: what ARM keeps and how it answers a write or a read,
following Microsoft's specifications (see billdb.azure.double, which serves it). NOT Azure."""

from __future__ import annotations

import copy
import hashlib
import hmac
import threading
import uuid
from collections.abc import Callable
from typing import Any

from billdb.azure import double_catalog as cat

PG = "/providers/microsoft.dbforpostgresql/flexibleservers/"
NET = "/providers/microsoft.network/"


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _is_server(low: str) -> bool:
    return PG in low and low.count("/") == 8


class Store:
    """The resources, by lower-cased id (ARM ids are case-insensitive)."""

    def __init__(self, vnets: list[str]) -> None:
        self.lock = threading.Lock()
        self.res: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self.admin_password: dict[str, str] = {}  # server id (lower) -> SHA-256, never served
        # long-running operations still in progress: id -> (polls left, what finishes it)
        self.pending: dict[str, tuple[int, Callable[[], None]]] = {}
        for v in vnets:
            self.res[v.lower()] = {"id": v, "name": v.rsplit("/", 1)[1],
                                   "type": "Microsoft.Network/virtualNetworks",
                                   "properties": {"provisioningState": "Succeeded"}}

    def get(self, rid: str) -> dict[str, Any]:
        found = self.res.get(rid.lower())
        if found is not None and "/virtualnetworkpeerings/" in rid.lower():
            found["properties"]["peeringState"] = self._peering_state(found)
        if found is None:
            if "/configurations/" in rid.lower():
                return self._default_parameter(rid)
            raise ArmError(404, "ResourceNotFound", f"The Resource '{rid}' was not found.")
        return found

    def _peering_state(self, peering: dict[str, Any]) -> str:
        """Connected once the remote VNet peers back, Initiated until then (Azure's states)."""
        local = peering["id"].lower().split("/virtualnetworkpeerings/")[0]
        remote = ((peering["properties"].get("remoteVirtualNetwork") or {}).get("id") or "")
        back = [r for k, r in self.res.items() if k.startswith(remote.lower()
                + "/virtualnetworkpeerings/") and (r["properties"].get(
                    "remoteVirtualNetwork") or {}).get("id", "").lower() == local]
        return "Connected" if back else "Initiated"

    def parent_check(self, rid: str) -> None:
        low = rid.lower()
        for child in ("/subnets/", "/virtualnetworkpeerings/"):
            if child in low:
                vnet = rid[:low.index(child)]
                if vnet.lower() not in self.res:
                    raise ArmError(404, "ParentResourceNotFound", f"Failed to perform "
                                   f"'write' on resource(s) of type '{child.strip('/')}', "
                                   f"because the parent resource '{vnet}' could not be found.")
        if PG in low and len(rid.split("/")) > 9:
            server = "/".join(rid.split("/")[:9])
            if server.lower() not in self.res:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource '{server}' was not found.")

    def put(self, rid: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a PUT; (the resource as a GET returns it, whether it is new)."""
        self.parent_check(rid)
        low, old = rid.lower(), self.res.get(rid.lower())
        new = copy.deepcopy(body)
        props = new.setdefault("properties", {})
        password = props.pop("administratorLoginPassword", None)
        if _is_server(low):
            self._server(rid, new, old)
            if old is None and password:
                self.admin_password[low] = _digest(password)
        elif "/configurations/" in low:
            self._parameter(rid, props)
        merged = _merge(old or {}, new)
        merged.update(id=rid, name=rid.rsplit("/", 1)[1])
        merged["properties"]["provisioningState"] = "Succeeded"
        _enrich(low, merged)
        self.res[low] = merged
        return merged, old is None

    def _default_parameter(self, rid: str) -> dict[str, Any]:
        self.parent_check(rid)
        name = rid.rsplit("/", 1)[1]
        if name not in cat.PARAMETERS:
            raise ArmError(404, "ConfigurationNotExists",
                           f"The configuration '{name}' does not exist for this server.")
        default, dtype, dynamic = cat.PARAMETERS[name]
        return {"id": rid, "name": name, "type": "Microsoft.DBforPostgreSQL/flexibleServers/"
                "configurations", "properties": {
                    "value": default, "defaultValue": default, "dataType": dtype,
                    "isDynamicConfig": dynamic, "isReadOnly": False,
                    "isConfigPendingRestart": False, "source": "system-default"}}

    def _parameter(self, rid: str, props: dict[str, Any]) -> None:
        current = self.get(rid)["properties"]
        meta = {k: v for k, v in current.items() if k != "value" and k != "source"}
        changed = current.get("value") != props.get("value")
        pending = current.get("isConfigPendingRestart") or (
            changed and not current["isDynamicConfig"])
        props.update(meta, isConfigPendingRestart=bool(pending))
        props.setdefault("source", "user-override")

    def _server(self, rid: str, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        props = new["properties"]
        mode = props.pop("createMode", None)
        if old is not None:
            if mode in cat.CREATE_MODES_NEW:
                raise ArmError(400, "InvalidParameterValue", f"createMode '{mode}' creates a "
                               "server, and this server exists: change it with a PATCH")
            _create_only_unchanged(new, old)
            return
        for path in cat.SERVER_UPDATE_ONLY:
            if _dig(new, path) is not None:
                raise ArmError(400, "InvalidParameterValue", f"'{'.'.join(path[1:])}' cannot "
                               "be set when a server is created: set it with an update")
        net = props.get("network") or {}
        if net.get("delegatedSubnetResourceId") and "publicNetworkAccess" in net:
            raise ArmError(400, "InvalidParameterValue", "publicNetworkAccess is supported "
                           "only for servers that are not VNet-integrated")
        props["replicationRole"] = self._role(new, mode)
        _server_read_only(rid, new)

    def _role(self, new: dict[str, Any], mode: str | None) -> str:
        if mode != "Replica":
            return "Primary"
        src = new["properties"].get("sourceServerResourceId")
        source = self.res.get((src or "").lower())
        if source is None:
            raise ArmError(400, "SourceServerNotFound", f"Source server '{src}' not found.")
        same = (source.get("location") or "").lower() == (new.get("location") or "").lower()
        return "AsyncReplica" if same else "GeoAsyncReplica"

    def restart(self, server: str, body: dict[str, Any]) -> None:
        srv = self.get(server)
        prefix = server.lower() + "/configurations/"
        for rid, res in self.res.items():
            if rid.startswith(prefix):
                res["properties"]["isConfigPendingRestart"] = False
        if body.get("restartWithFailover"):
            p = srv["properties"]
            ha = p.get("highAvailability") or {}
            if ha.get("mode") != "ZoneRedundant":
                raise ArmError(400, "HANotEnabled", "The server has no high availability.")
            p["availabilityZone"], ha["standbyAvailabilityZone"] = (
                ha["standbyAvailabilityZone"], p["availabilityZone"])

    def patch(self, rid: str, body: dict[str, Any]) -> Callable[[], None] | None:
        """Apply a PATCH; what finishes its operation when that is not immediate."""
        srv = self.get(rid)
        body = copy.deepcopy(body)
        replica = (body.get("properties") or {}).get("replica") or {}
        if replica.get("promoteMode"):
            _promote(srv, replica)
            return None
        for path in (*cat.SERVER_CREATE_ONLY, *cat.SERVER_READ_ONLY):
            if _dig(body, path) is not None:
                raise ArmError(400, "InvalidParameterValue", f"'{'.'.join(path)}' cannot be "
                               "changed by an update")
        password = (body.get("properties") or {}).pop("administratorLoginPassword", None)
        if password is not None and _dig(srv, ("properties", "authConfig",
                                               "passwordAuth")) == "Disabled":
            raise ArmError(400, "InvalidParameterValue", "administratorLoginPassword can be "
                           "changed only while password authentication is enabled")
        self.res[rid.lower()] = _merge(srv, body)
        if password is None:
            return None
        digest, low = _digest(password), rid.lower()
        return lambda: self.admin_password.__setitem__(low, digest)

    def login(self, server: str, password: str) -> bool:
        """Whether `password` is the server administrator's effective password now."""
        have = self.admin_password.get(server.lower())
        return have is not None and hmac.compare_digest(have, _digest(password))

    def poll(self, op: str) -> str:
        """An operation's status: InProgress while it has polls left, then Succeeded."""
        if op not in self.pending:
            return "Succeeded"
        left, finish = self.pending[op]
        if left > 0:
            self.pending[op] = (left - 1, finish)
            return "InProgress"
        del self.pending[op]
        finish()
        return "Succeeded"


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _create_only_unchanged(new: dict[str, Any], old: dict[str, Any]) -> None:
    for path in cat.SERVER_CREATE_ONLY:
        want, have = _dig(new, path), _dig(old, path)
        if want is not None and have is not None and str(want).lower() != str(have).lower():
            raise ArmError(400, "PropertyChangeNotAllowed", f"Changing property "
                           f"'{'.'.join(path[1:] or path)}' is not allowed after the server "
                           "is created.")


def _server_read_only(rid: str, new: dict[str, Any]) -> None:
    """What Azure adds to a new server (ServerGet example)."""
    props = new["properties"]
    props.update(state="Ready", minorVersion="8", replicaCapacity=5,
                 fullyQualifiedDomainName=f"{rid.rsplit('/', 1)[1]}.postgres.database.azure.com")
    net = props.setdefault("network", {})
    net["publicNetworkAccess"] = "Disabled" if net.get("delegatedSubnetResourceId") \
        else "Enabled"
    props.setdefault("maintenanceWindow", {"customWindow": "Disabled", "dayOfWeek": 0,
                                           "startHour": 0, "startMinute": 0})
    ha = props.setdefault("highAvailability", {"mode": "Disabled"})
    ha["state"] = "Healthy" if ha.get("mode", "Disabled") != "Disabled" else "NotEnabled"
    props.setdefault("backup", {}).setdefault("earliestRestoreDate", "2026-12-06T00:00:00Z")


def _promote(srv: dict[str, Any], replica: dict[str, Any]) -> dict[str, Any]:
    p = srv["properties"]
    if p.get("replicationRole") not in ("AsyncReplica", "GeoAsyncReplica"):
        raise ArmError(400, "NotAReplica", "The server is not a read replica.")
    p["replicationRole"] = "Primary"
    p["replica"] = {"role": "Primary", "promoteMode": replica["promoteMode"],
                    "promoteOption": replica.get("promoteOption")}
    p.pop("sourceServerResourceId", None)
    return srv


def _enrich(low: str, res: dict[str, Any]) -> None:
    """Server-side fields Azure adds to list items (Microsoft's example responses)."""
    props = res["properties"]
    if "/subnets/" in low:
        for d in props.get("delegations") or []:
            d.setdefault("id", f"{res['id']}/delegations/{d.get('name')}")
            d.setdefault("type", "Microsoft.Network/virtualNetworks/subnets/delegations")
            dp = d.setdefault("properties", {})
            dp.setdefault("actions", ["Microsoft.Network/virtualNetworks/subnets/join/action"])
            dp["provisioningState"] = "Succeeded"
    if "/networksecuritygroups/" in low:
        for r in props.get("securityRules") or []:
            r.setdefault("id", f"{res['id']}/securityRules/{r.get('name')}")
            r.setdefault("type", "Microsoft.Network/networkSecurityGroups/securityRules")
            r.setdefault("properties", {})["provisioningState"] = "Succeeded"
        props.setdefault("defaultSecurityRules", [
            {"name": n, "properties": {"priority": p, "access": a, "direction": "Inbound"}}
            for n, p, a in (("AllowVnetInBound", 65000, "Allow"),
                            ("AllowAzureLoadBalancerInBound", 65001, "Allow"),
                            ("DenyAllInBound", 65500, "Deny"))])
    if "/actiongroups/" in low:
        for r in props.get("emailReceivers") or []:
            r.setdefault("status", "Enabled")
    if "/privateendpoints/" in low and "/privatednszonegroups/" not in low:
        for c in props.get("privateLinkServiceConnections") or []:
            c.setdefault("id", f"{res['id']}/privateLinkServiceConnections/{c.get('name')}")
            c.setdefault("type", "Microsoft.Network/privateEndpoints/"
                                 "privateLinkServiceConnections")
            cp = c.setdefault("properties", {})
            cp.update(provisioningState="Succeeded", privateLinkServiceConnectionState={
                "status": "Approved", "description": "Auto-Approved",
                "actionsRequired": "None"})
        props.setdefault("networkInterfaces", [{"id": f"{res['id']}.nic"}])
    if "/diagnosticsettings/" in low:
        for item in (props.get("logs") or []) + (props.get("metrics") or []):
            item.setdefault("retentionPolicy", {"enabled": False, "days": 0})
            if "category" in item:
                item.setdefault("categoryGroup", None)
    if "/operationalinsights/workspaces/" in low:
        props.update(customerId=str(uuid.uuid5(uuid.NAMESPACE_URL, low)),
                     publicNetworkAccessForIngestion="Enabled",
                     publicNetworkAccessForQuery="Enabled")
        props.setdefault("sku", {})["lastSkuUpdate"] = "2026-12-06T00:00:00Z"
    if "/metricalerts/" in low:
        props.update(isMigrated=False, lastUpdatedTime="2026-12-06T00:00:00Z")


def _dig(d: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(old)
    for k, v in new.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else copy.deepcopy(v)
    return out
