"""`azure plan` and `azure apply`: desired (the SDK bodies), observed (GET), diff, apply.

apply runs under the journal (billdb.ops.journal): one step per operation, each resumable
(it reads what is there first and sends only what differs, and every ARM PUT is idempotent),
so a kill at any operation and a rerun end the same as one run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from billdb.azure import database as az_database
from billdb.azure import operations, rules, sdk, state
from billdb.azure.clients import Clients, credentials_available
from billdb.azure.operations import SECRET_FIELDS, Operation
from billdb.azure.parameters import STATIC
from billdb.azure.target import Target, target
from billdb.errors import BilldbError
from billdb.ops import journal
from billdb.plan.models import Plan

IGNORED = ("createMode",)  # how a resource was made; not read back as desired state


def _norm(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        return v.lower()
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return {k: _norm(x) for k, x in v.items()} if isinstance(v, dict) else v


def differences(desired: Any, observed: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(path, wanted, found) for every leaf of `desired` that `observed` does not match."""
    out = []
    for k, want in (desired or {}).items():
        if k in SECRET_FIELDS or k in IGNORED:
            continue
        path = f"{prefix}{k}"
        got = observed.get(k) if isinstance(observed, dict) else None
        if isinstance(want, dict):
            out += differences(want, got, path + ".")
        elif _norm(want) != _norm(got):
            out.append((path, want, got))
    return out


_ZONES = ("properties.availabilityZone", "properties.highAvailability.standbyAvailabilityZone")


def _after_failover(diffs: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
    """After an HA failover the zones are swapped: that is the plan, not a drift."""
    z = {p: (w, g) for p, w, g in diffs if p in _ZONES}
    if len(z) == 2 and all(z[a][0] == z[b][1] for a, b in (_ZONES, _ZONES[::-1])):
        return [d for d in diffs if d[0] not in _ZONES]
    return diffs


def observe(op: Operation, clients: Clients) -> dict[str, Any]:
    """What this operation would change: {"action": create|update|none, "changes": [...]}."""
    if op.action:
        return {"action": "unknown"}
    found = clients.read(op.resource_id, op.api_version)
    if found is None:
        return {"action": "create", "changes": []}
    diffs = _after_failover(differences(op.body(), found))
    blocked = [d for d in diffs if d[0] in op.create_only]
    if blocked:
        raise BilldbError(f"{op.key} ({op.resource_id}): "
                          + "; ".join(f"{p} is {g!r}, the plan wants {w!r}" for p, w, g in blocked)
                          + ": Azure sets it only at create; recreate the resource to change it")
    return {"action": "update" if diffs else "none",
            "changes": [{"field": p, "want": w, "found": g} for p, w, g in diffs]}


def _restart_pending(ops: list[Operation], clients: Clients, pending: set[str]) -> bool:
    if any(k.split(".", 1)[1] in STATIC for k in pending if k.startswith("parameter.")):
        return True
    for op in ops:
        if op.kind == "parameter" and op.key.split(".", 1)[1] in STATIC:
            found = clients.read(op.resource_id, op.api_version) or {}
            if (found.get("properties") or {}).get("isConfigPendingRestart"):
                return True
    return False


def load(plan: Plan, plan_path: Path, password: str = operations.MASK) -> tuple[Target, list]:
    rules.check(plan, plan_path)
    t = target(plan)
    return t, operations.build(t, password)


def plan_report(plan: Plan, plan_path: Path) -> dict[str, Any]:
    """The operations to run: all of them offline, only the differing ones with a read."""
    t, ops = load(plan, plan_path)
    can_read, how = credentials_available()
    doc: dict[str, Any] = {"target": t.server_id(), "subscription": t.subscription,
                           "read": can_read, "credentials": how}
    if can_read:
        clients = Clients(t)
        try:
            seen = {op.key: observe(op, clients) for op in ops if not op.action}
        except sdk.http_error() as exc:
            raise BilldbError(f"reading Azure failed: {arm_message(exc)}") from None
        pending = {k for k, v in seen.items() if v["action"] != "none"}
        todo = [op for op in ops if op.key in pending or (
            op.action and _restart_pending(ops, clients, pending))]
        doc["operations"] = [{**op.as_dict(), **seen.get(op.key, {"action": "run"})}
                             for op in todo]
        doc["unchanged"] = len(ops) - len(todo)
    else:
        doc["note"] = f"{how}: nothing was read, every operation is listed"
        doc["operations"] = [op.as_dict() for op in ops]
    doc["counts"] = operations.counts(ops)
    doc["total"] = len(ops)
    return doc


def arm_message(exc: Exception) -> str:
    err = getattr(exc, "error", None)
    code = getattr(err, "code", None) or getattr(exc, "status_code", "?")
    msg = getattr(err, "message", None) or str(exc).splitlines()[0]
    return f"{code}: {msg}"


def _sql_step(name: str, fn: Callable[[Target], str], t: Target, changed: list[str],
              progress: Callable[[str], None]) -> journal.Step:
    def run(_j: journal.Journal) -> str:
        try:
            detail = fn(t)
        except psycopg.Error as exc:
            raise BilldbError(f"{name} on {t.fqdn()}: {str(exc).strip()}") from None
        if not detail.endswith(("as planned", "present", "none pending")):
            progress(f"{name}: {detail}")
            changed.append(f"sql {name}")
        return detail
    return journal.Step(name, run)


def apply(plan: Plan, plan_path: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """Run every differing operation, waiting for each long-running one; journaled."""
    t, ops = load(plan, plan_path, state.admin_password())
    clients = Clients(t)
    changed: list[str] = []

    def step(op: Operation) -> journal.Step:
        def run(_j: journal.Journal) -> str:
            if op.action:
                done = {c.split(" ", 1)[1] for c in changed}
                if not _restart_pending(ops, clients, done):
                    return "no restart needed"
            else:
                seen = observe(op, clients)
                if seen["action"] == "none":
                    return "unchanged"
            what = f"{op.method} {op.kind} {op.resource_id.rsplit('/', 1)[1]}"
            progress(f"{what} …")
            started = time.monotonic()
            try:
                op.send(clients[op.client], op.model)  # waits for a long-running operation
            except sdk.http_error() as exc:
                raise BilldbError(f"Azure refused {op.key} ({op.resource_id}): "
                                  f"{arm_message(exc)}") from None
            progress(f"{what}: done in {time.monotonic() - started:.1f} s")
            changed.append(f"{op.kind} {op.key}")
            return "applied"
        return journal.Step(op.key, run)

    steps = [step(op) for op in ops]
    if az_database.wanted():
        steps += [_sql_step(name, fn, t, changed, progress) for name, fn in az_database.STEPS]
    _j, outcome = journal.run(journal.directory(state.directory()), "azure-apply",
                              {"target": t.server_id(), "sql": az_database.wanted()}, steps,
                              command="billdb --env prod azure apply", progress=progress)
    return {"ok": True, "target": t.server_id(), "changes": len(changed),
            "changed": changed, "operations": len(ops), "journal": outcome}
