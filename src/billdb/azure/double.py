"""A contract double of Azure Resource Manager on 127.0.0.1, over TLS. It is NOT Azure.

It answers the way the 2026-10-01 flexible server API (and the network, DNS, storage and
monitor APIs billdb uses) documents, so the SDK's own code paths run against it:
- writes under Microsoft.DBforPostgreSQL answer 202 with `Azure-AsyncOperation` and
  `Location` headers (the SDK rejects a 200); the operation then reads `Succeeded`;
- the other writes (metric alerts, action groups, subnets, ...) answer 200;
- errors are ARM's body: {"error": {"code", "message"}};
- it keeps the resources: a GET after a PUT returns what was stored plus the read-only fields
  a real server has (state, FQDN, replication role, pending restart), never the password.
It refuses a request without a bearer token, a subnet of a VNet it does not have, a child of
a server that does not exist, and a change of a create-only server property.

Run: python -m billdb.azure.double --port P --dir D [--vnet ID ...] (test use).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from billdb.azure.parameters import STATIC
from billdb.engines.tls import ensure_tls

PG = "/providers/microsoft.dbforpostgresql/flexibleservers/"
_CREATE_ONLY = (("properties", "administratorLogin"), ("properties", "availabilityZone"),
                ("properties", "backup", "geoRedundantBackup"),
                ("properties", "network", "delegatedSubnetResourceId"))


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Store:
    """The resources, by lower-cased id (ARM ids are case-insensitive)."""

    def __init__(self, vnets: list[str]) -> None:
        self.lock = threading.Lock()
        self.res: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        for v in vnets:
            self.res[v.lower()] = {"id": v, "name": v.rsplit("/", 1)[1],
                                   "properties": {"provisioningState": "Succeeded"}}

    def get(self, rid: str) -> dict[str, Any]:
        found = self.res.get(rid.lower())
        if found is None:
            raise ArmError(404, "ResourceNotFound", f"The Resource '{rid}' was not found.")
        return found

    def parent_check(self, rid: str) -> None:
        low = rid.lower()
        if "/subnets/" in low:
            vnet = rid[:low.index("/subnets/")]
            if vnet.lower() not in self.res:
                raise ArmError(404, "ParentResourceNotFound", f"Failed to perform 'write' on "
                               f"resource(s) of type 'subnets', because the parent resource "
                               f"'{vnet}' could not be found.")
        if PG in low and len(rid.split("/")) > 9:
            server = "/".join(rid.split("/")[:9])
            if server.lower() not in self.res:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource '{server}' was not found.")

    def put(self, rid: str, body: dict[str, Any]) -> dict[str, Any]:
        self.parent_check(rid)
        low, old = rid.lower(), self.res.get(rid.lower())
        new = copy.deepcopy(body)
        props = new.setdefault("properties", {})
        props.pop("administratorLoginPassword", None)
        if PG in low and low.count("/") == 8:
            self._server(rid, new, old)
        elif "/configurations/" in low:
            name = rid.rsplit("/", 1)[1]
            props["isConfigPendingRestart"] = name in STATIC and (
                not old or old["properties"].get("value") != props.get("value"))
        merged = _merge(old or {}, new)
        merged.update(id=rid, name=rid.rsplit("/", 1)[1])
        merged["properties"]["provisioningState"] = "Succeeded"
        self.res[low] = merged
        return merged

    def _server(self, rid: str, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        props = new["properties"]
        if old:
            for path in _CREATE_ONLY:
                want, have = _dig(new, path), _dig(old, path)
                if want is not None and have is not None and want != have:
                    raise ArmError(400, "PropertyChangeNotAllowed",
                                   f"Changing property '{'.'.join(path[1:])}' is not allowed "
                                   "after the server is created.")
        src = props.get("sourceServerResourceId")
        if props.get("createMode") == "Replica":
            if not src or src.lower() not in self.res:
                raise ArmError(400, "SourceServerNotFound", f"Source server '{src}' not found.")
            props["replicationRole"] = "AsyncReplica"
        elif not old:
            props["replicationRole"] = "Primary"
        props.pop("createMode", None)
        props["state"] = "Ready"
        props["fullyQualifiedDomainName"] = f"{rid.rsplit('/', 1)[1]}.postgres.database.azure.com"
        if "highAvailability" in props:
            props["highAvailability"]["state"] = (
                "Healthy" if props["highAvailability"].get("mode") != "Disabled" else "NotEnabled")

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
        srv["properties"]["restarts"] = srv["properties"].get("restarts", 0) + 1

    def patch(self, rid: str, body: dict[str, Any]) -> dict[str, Any]:
        srv = self.get(rid)
        replica = (body.get("properties") or {}).get("replica") or {}
        if replica.get("promoteMode"):
            p = srv["properties"]
            if p.get("replicationRole") != "AsyncReplica":
                raise ArmError(400, "NotAReplica", "The server is not a read replica.")
            p["replicationRole"] = "Primary"
            p["replica"] = {"role": "Primary", "promoteMode": replica["promoteMode"],
                            "promoteOption": replica.get("promoteOption")}
            p.pop("sourceServerResourceId", None)
            return srv
        return _merge(srv, body)


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
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}") if n else {}

    def _accepted(self, doc: Any = None) -> None:
        op = uuid.uuid4().hex
        base = f"https://{self.headers['Host']}/_ops/{op}"
        self._send(202, doc, {"Azure-AsyncOperation": f"{base}?api-version=2026-10-01",
                              "Location": f"{base}/result?api-version=2026-10-01",
                              "Retry-After": "0"})

    def _handle(self, method: str) -> None:
        path = urlsplit(self.path).path
        st = self.store
        try:
            body = self._body() if method in ("PUT", "PATCH", "POST") else {}
            if path.startswith("/_ops/"):
                self._send(200, {} if path.endswith("/result") else
                           {"name": path.split("/")[2], "status": "Succeeded"})
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
            if "/configurations/" in low and low not in st.res:
                st.parent_check(path)
                self._send(200, {"id": path, "name": path.rsplit("/", 1)[1], "properties": {
                    "value": "", "source": "system-default"}})
                return
            self._send(200, st.get(path))
        elif method == "PUT":
            res = st.put(path, body)
            if PG in low:
                self._accepted()
            else:
                self._send(200, res)
        elif method == "POST" and low.endswith("/restart"):
            st.restart(path.rsplit("/", 1)[0], body)
            self._accepted()
        elif method == "PATCH" and PG in low:
            st.patch(path, body)
            self._accepted()
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
    print("ready", flush=True)
    threading.Event().wait() if httpd else None


if __name__ == "__main__":
    main()
