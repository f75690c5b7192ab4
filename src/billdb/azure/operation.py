"""One ARM operation of the plan: the SDK model, where it goes and how the SDK sends it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from billdb.azure import sdk

MASK = "***"
SECRET_FIELDS = ("administratorLoginPassword",)
PG_API = "2026-10-01"
# The api-versions the pinned SDKs send (their defaults, read from the packages).
API = {"network": "2026-03-01", "dns": "2024-06-01", "storage": "2026-09-01",
       "monitor.metric_alerts": "2018-03-01", "monitor.action_groups": "2023-01-01"}


@dataclass
class Operation:
    key: str  # a stable step name, unique in the plan
    kind: str  # what is counted: subnet, server, parameter, ...
    method: str
    resource_id: str
    client: str  # sdk.CLIENTS key
    api_version: str
    model: Any
    send: Callable[[Any, Any], Any]  # (client, model) -> result
    section: str
    note: str = ""
    # body fields Azure accepts only at create: a difference on an existing resource is an
    # error, never a silent no-op
    create_only: tuple[str, ...] = ()
    action: bool = False  # POST (restart): not a resource, nothing to read back
    secrets: dict[str, str] = field(default_factory=dict)
    # how an existing resource is changed: a PATCH of the updatable fields that differ,
    # (client, patch body) -> result; None: the resource's PUT is its update
    patch: Callable[[Any, dict[str, Any]], Any] | None = None

    def body(self) -> dict[str, Any] | None:
        return None if self.model is None else sdk.body(self.model)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "method": self.method,
                "resource_id": self.resource_id, "api_version": self.api_version,
                "section": self.section, "body": mask(self.body()),
                **({"note": self.note} if self.note else {})}


def mask(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: (MASK if k in SECRET_FIELDS and v else mask(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [mask(v) for v in body]
    return body
