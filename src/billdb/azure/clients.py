"""SDK clients for Azure, or for the contract double when BILLDB_AZURE_ENDPOINT is set.

Real Azure: `DefaultAzureCredential` (the CLI login, a managed identity or a service
principal). The double (tests): its https base_url, its CA (BILLDB_AZURE_CA) and a static
test token; polling_interval 0 and no retries so an apply runs in seconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from billdb.azure import sdk
from billdb.azure.target import Target
from billdb.errors import BilldbError

ENDPOINT_ENV, CA_ENV = "BILLDB_AZURE_ENDPOINT", "BILLDB_AZURE_CA"


class TestToken:
    """A credential for the double only: any bearer token is accepted there."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("billdb-contract-double", int(time.time()) + 3600)


def credentials_available() -> tuple[bool, str]:
    """Whether a read of Azure can be tried, and what would be used (no network call)."""
    if os.environ.get(ENDPOINT_ENV):
        return True, f"the contract double at {os.environ[ENDPOINT_ENV]} (not Azure)"
    if os.environ.get("AZURE_CLIENT_ID") and (os.environ.get("AZURE_CLIENT_SECRET")
                                              or os.environ.get("AZURE_FEDERATED_TOKEN_FILE")):
        return True, "a service principal (AZURE_CLIENT_ID)"
    if os.environ.get("IDENTITY_ENDPOINT") or os.environ.get("MSI_ENDPOINT"):
        return True, "a managed identity"
    if any((Path.home() / ".azure").glob("msal_token_cache.*")):
        return True, "the Azure CLI login"
    return False, "no Azure credentials (no CLI login, managed identity or service principal)"


class Clients:
    """One SDK client per kind, made on first use."""

    def __init__(self, t: Target) -> None:
        self.t = t
        self._made: dict[str, Any] = {}
        endpoint = os.environ.get(ENDPOINT_ENV)
        if endpoint:
            self.credential: Any = TestToken()
            self.kwargs: dict[str, Any] = {
                "base_url": endpoint, "polling_interval": 0, "retry_total": 0,
                "connection_verify": os.environ.get(CA_ENV, True),
                "credential_scopes": ["https://management.azure.com/.default"]}
        else:
            self.credential = sdk._need("azure.identity").DefaultAzureCredential()
            self.kwargs = {}

    def __getitem__(self, kind: str) -> Any:
        if kind == "clients":  # bodies without an SDK model: Clients.put
            return self
        if kind not in self._made:
            self._made[kind] = sdk.client(kind, self.credential, self.t.subscription,
                                          **self.kwargs)
        return self._made[kind]

    def read(self, resource_id: str, api_version: str) -> dict[str, Any] | None:
        """GET a resource by id through the pipeline (auth, TLS): its JSON, or None."""
        from azure.core.rest import HttpRequest

        resp = self["pg"].send_request(
            HttpRequest("GET", f"{resource_id}?api-version={api_version}"))
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise sdk.http_error()(response=resp)
        return resp.json()

    def put(self, resource_id: str, api_version: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT a body that no SDK model carries (workspace, diagnostic setting) through the
        same pipeline; a 201/202 with Azure-AsyncOperation is polled to its end."""
        import json

        from azure.core.rest import HttpRequest

        resp = self["pg"].send_request(HttpRequest(
            "PUT", f"{resource_id}?api-version={api_version}", content=json.dumps(body),
            headers={"Content-Type": "application/json"}))
        if resp.status_code not in (200, 201, 202):
            raise sdk.http_error()(response=resp)
        poll = resp.headers.get("Azure-AsyncOperation")
        while resp.status_code in (201, 202) and poll:
            status = self["pg"].send_request(HttpRequest("GET", poll)).json().get("status")
            if status in ("Succeeded", "Failed", "Canceled"):
                if status != "Succeeded":
                    raise BilldbError(f"{resource_id}: the operation ended {status}")
                break
            time.sleep(float(resp.headers.get("Retry-After", "1")))
        return self.read(resource_id, api_version) or {}
