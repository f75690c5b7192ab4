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

from billdb.azure.double_store import NET, PG, ArmError, Store
from billdb.engines.tls import ensure_tls

NOT_AZURE = "billdb contract double (NOT Azure)"


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
