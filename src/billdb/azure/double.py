"""A contract double of Azure Resource Manager on 127.0.0.1, over TLS. It is NOT Azure.

It answers as Microsoft's REST API specifications and their example responses show (the
2026-10-01 flexible server API, and the network, private DNS, storage and monitor APIs billdb
uses), so the SDK's own code paths run against it:
- flexible server writes answer 202 with `Azure-AsyncOperation` and `Location` (the SDK
  rejects a 200); subnet, peering, NSG and private DNS writes are long-running too: 201 for a
  new resource, 200 for an update, with `Azure-AsyncOperation`; the operation then reads
  `Succeeded`; metric alerts, action groups and storage answer 200;
- errors are ARM's body: {"error": {"code", "message"}};
- GETs carry what Azure adds: read-only server fields (state, FQDN, minor version, replica
  capacity, replication role, publicNetworkAccess Disabled for a VNet-integrated server, the
  default maintenance window), list items enriched with server-side fields (a subnet
  delegation's id, type, actions and provisioningState; an email receiver's status), and for
  a parameter its default, data type, whether it is dynamic and whether a restart is pending,
  from the double's own catalogue (double_catalog), never from billdb's;
- the spec's mutability is enforced: a create carrying an update-only property
  (maintenanceWindow) or publicNetworkAccess with a delegated subnet is refused, a PUT with
  createMode Create/Replica to an existing server is refused (an existing server is changed
  with a PATCH), a create-only property cannot change; a replica in another region than its
  source is a GeoAsyncReplica.
It refuses a request without a bearer token, a subnet of a VNet it does not have and a child
of a server that does not exist.

The administrator's password (`administratorLoginPassword`: x-ms-secret, mutability create
and update, ServerPropertiesForPatch: update only) is write-only: it is never stored in the
resource and never returned by a GET. A PATCH that changes it is a long-running operation
that reads `InProgress` on its first poll and `Succeeded` after; the new password takes
effect only then. The double keeps a SHA-256 of the effective password per server so a test
can ask, on the double's own non-ARM path `POST /_double/login` ({"server", "password"} ->
{"ok"}), whether a password would log in, standing in for a login as the administrator.

Run: python -m billdb.azure.double --port P --dir D [--vnet ID ...] (test use).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import os
import ssl
import sys
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from billdb.azure import double_catalog as cat
from billdb.engines.tls import ensure_tls

PG = "/providers/microsoft.dbforpostgresql/flexibleservers/"
NET = "/providers/microsoft.network/"
NOT_AZURE = "billdb contract double (NOT Azure)"


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


class Handler(BaseHTTPRequestHandler):
    store: Store
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet: tests read the request log instead
        pass

    def _send(self, status: int, doc: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-billdb-double", NOT_AZURE)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}") if n else {}

    def _accepted(self, doc: Any = None, status: int = 202,
                  finish: Callable[[], None] | None = None) -> None:
        op = uuid.uuid4().hex
        if finish is not None:  # in progress on the first poll, done on the next
            self.store.pending[op] = (1, finish)
        base = f"https://{self.headers['Host']}/_ops/{op}"
        headers = {"Azure-AsyncOperation": f"{base}?api-version=2026-10-01",
                   "Retry-After": "0"}
        if status == 202:
            headers["Location"] = f"{base}/result?api-version=2026-10-01"
        self._send(status, doc, headers)

    def _handle(self, method: str) -> None:
        path = urlsplit(self.path).path
        st = self.store
        try:
            body = self._body() if method in ("PUT", "PATCH", "POST") else {}
            if path.startswith("/_ops/"):
                with st.lock:
                    status = "Succeeded" if path.endswith("/result") else st.poll(
                        path.split("/")[2])
                self._send(200, {} if path.endswith("/result") else
                           {"name": path.split("/")[2], "status": status})
                return
            if path == "/_double/login":  # the double's own test path, not ARM
                with st.lock:
                    ok = st.login(body["server"], body["password"])
                self._send(200, {"ok": ok})
                return
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                raise ArmError(401, "AuthenticationFailed", "Authentication failed. The "
                               "'Authorization' header is missing.")
            with st.lock:
                st.requests.append(f"{method} {path}")
                self._route(method, path, body)
        except ArmError as e:
            self._send(e.status, {"error": {"code": e.code, "message": e.message}})
        except (ValueError, KeyError) as e:
            self._send(400, {"error": {"code": "InvalidRequestContent", "message": str(e)}})

    def _route(self, method: str, path: str, body: dict[str, Any]) -> None:
        st, low = self.store, path.lower()
        if method == "GET":
            self._send(200, st.get(path))
        elif method == "PUT":
            res, new = st.put(path, body)
            if "/providers/microsoft.insights/diagnosticsettings/" in low:
                self._send(200, res)  # synchronous in the spec
            elif "/providers/microsoft.operationalinsights/" in low:
                self._accepted(res, 201 if new else 200)
            elif PG in low:
                self._accepted()
            elif NET in low:  # subnets, peerings, NSGs, DNS zones and links: long-running
                self._accepted(res, 201 if new else 200)
            else:
                self._send(200, res)
        elif method == "POST" and low.endswith("/restart"):
            st.restart(path.rsplit("/", 1)[0], body)
            self._accepted()
        elif method == "PATCH" and PG in low:
            self._accepted(finish=st.patch(path, body))
        else:
            raise ArmError(405, "MethodNotAllowed", f"{method} {path} is not supported here")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")


def serve(port: int, directory: Path, vnets: list[str]) -> ThreadingHTTPServer:
    """Start the double (a thread); its CA certificate is `directory/ca.crt`."""
    directory.mkdir(parents=True, exist_ok=True)
    ensure_tls(directory / "ca.crt", directory / "ca.key", directory / "server.crt",
               directory / "server.key", os.getuid())
    handler = type("BoundHandler", (Handler,), {"store": Store(vnets)})
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(directory / "server.crt", directory / "server.key")
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> None:
    ap = argparse.ArgumentParser(description="ARM contract double (NOT Azure), for tests")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--vnet", action="append", default=[])
    a = ap.parse_args()
    httpd = serve(a.port, a.dir, a.vnet)
    print(f"{NOT_AZURE} on https://127.0.0.1:{a.port}", file=sys.stderr, flush=True)
    print("ready", flush=True)
    threading.Event().wait() if httpd else None


if __name__ == "__main__":
    main()
