"""Every request the plan can produce, checked against Microsoft's contract (contract.py):
the `azure plan` operations, the PATCH a drift repair would send, the promote and failover
bodies, and the `export --format arm` resources with their after-deployment updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billdb.azure import contract, dr, export, operations, sdk
from billdb.azure.target import Target


@dataclass(frozen=True)
class Request:
    label: str
    method: str
    resource_id: str
    body: dict[str, Any] | None


def _arm(t: Target, ops: list[operations.Operation]) -> list[Request]:
    tpl = export.arm_template(ops)
    out, rids = [], [op.resource_id for op in ops if not op.action and op.method == "PUT"]
    for rid, res in zip(rids, tpl["resources"], strict=True):
        body = {k: v for k, v in res.items() if k not in ("type", "apiVersion", "name",
                                                          "dependsOn", "scope")}
        out.append(Request(f"arm {res['type']}/{res['name']}", "PUT", rid, body))
    for u in tpl["metadata"]["updates_after_deployment"]:
        out.append(Request(f"arm update {u['resource_id']}", u["method"], u["resource_id"],
                           u["body"]))
    return out


def requests(t: Target) -> list[Request]:
    ops = operations.build(t, "placeholder-Aa1!")
    out = [Request(f"plan {op.key}", op.method, op.resource_id, op.body()) for op in ops]
    for forced in (False, True):
        for switchover in (False, True):
            out.append(Request(f"promote forced={forced} switchover={switchover}", "PATCH",
                               t.replica_id, sdk.body(dr.promote_model(forced, switchover))))
    out.append(Request("failover", "POST", f"{t.server_id()}/restart",
                       sdk.body(dr.failover_model())))
    return out + _arm(t, ops)


def check(t: Target) -> dict[str, Any]:
    """{"requests", "errors": [...], "warnings": [...]} for every request of the plan."""
    reqs, errors, warnings = requests(t), [], []
    for r in reqs:
        for p in contract.check_request(r.resource_id, r.method, r.body):
            (errors if p.severity == "error" else warnings).append(f"{r.label}: {p}")
    return {"requests": len(reqs), "errors": errors, "warnings": warnings}
