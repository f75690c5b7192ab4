"""Every import of Microsoft's SDKs, in one place, under the pins of the `.[azure]` extra.

The body the SDK sends is built by its private `_utils.model_base.SdkJSONEncoder` (the
typespec-generated packages) or by msrest's `serialize()` (azure-mgmt-monitor): `body()`
wraps both, so a change of the private module shows up here and nowhere else.
"""

from __future__ import annotations

import importlib
import json
from functools import cache
from typing import Any

from billdb.errors import BilldbError

PINNED = "azure-mgmt-postgresqlflexibleservers==3.0.0"


def _need(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BilldbError(f"the Azure SDKs are not installed ({module}): "
                          "run `.venv/bin/pip install -e '.[azure]'` (make up does)") from None


def pg() -> Any:
    """azure.mgmt.postgresqlflexibleservers.models"""
    return _need("azure.mgmt.postgresqlflexibleservers.models")


def network() -> Any:
    return _need("azure.mgmt.network.models")


def dns() -> Any:
    return _need("azure.mgmt.privatedns.models")


def storage() -> Any:
    return _need("azure.mgmt.storage.models")


def monitor() -> Any:
    return _need("azure.mgmt.monitor.models")


@cache
def _encoder(package: str) -> Any:
    # Private module: pinned in pyproject's `.[azure]`; the SDK itself sends
    # json.dumps(parameters, cls=SdkJSONEncoder, exclude_readonly=True).
    return importlib.import_module(f"{package}._utils.model_base").SdkJSONEncoder


def body(model: Any) -> dict[str, Any]:
    """The JSON body the SDK would send for `model` (read-only fields left out)."""
    if isinstance(model, dict):  # a body from the spec extract (no SDK model)
        return json.loads(json.dumps(model))
    if hasattr(model, "serialize"):  # msrest model (azure-mgmt-monitor)
        return model.serialize()
    package = type(model).__module__.split(".models")[0]
    return json.loads(json.dumps(model, cls=_encoder(package), exclude_readonly=True))


def enum_values(name: str, module: Any | None = None) -> list[str]:
    """The values of one of the SDK's enum classes (open strings: the SDK never checks)."""
    enum = getattr(module or pg(), name)
    return [e.value for e in enum]


CLIENTS = {
    "pg": ("azure.mgmt.postgresqlflexibleservers", "PostgreSQLManagementClient"),
    "network": ("azure.mgmt.network", "NetworkManagementClient"),
    "dns": ("azure.mgmt.privatedns", "PrivateDnsManagementClient"),
    "storage": ("azure.mgmt.storage", "StorageManagementClient"),
    "monitor": ("azure.mgmt.monitor", "MonitorManagementClient"),
}


def client(kind: str, credential: Any, subscription_id: str, **kwargs: Any) -> Any:
    module, name = CLIENTS[kind]
    return getattr(_need(module), name)(credential, subscription_id, **kwargs)


def http_error() -> type[Exception]:
    return _need("azure.core.exceptions").HttpResponseError


def not_found() -> type[Exception]:
    return _need("azure.core.exceptions").ResourceNotFoundError
