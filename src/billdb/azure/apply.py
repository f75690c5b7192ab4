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

from billdb.azure import contract, operations, rules, sdk, state
from billdb.azure import database as az_database
from billdb.azure.clients import Clients, credentials_available
from billdb.azure.operations import SECRET_FIELDS, Operation
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
    """(path, wanted, found) for every leaf of `desired` that `observed` does not match.

    Azure answers with more than was sent: read-only fields, and list items enriched with
    server-side ones (a subnet delegation comes back with id, actions and provisioningState;
    an email receiver with status). So a desired object matches when its own leaves do, and
    a list when each desired item matches its observed counterpart (by name, else position)
    and no item is missing or extra."""
    out = []
    for k, want in (desired or {}).items():
        if k in SECRET_FIELDS or k in IGNORED:
            continue
        path = f"{prefix}{k}"
        got = observed.get(k) if isinstance(observed, dict) else None
        if isinstance(want, dict):
            out += differences(want, got, path + ".")
        elif isinstance(want, list):
            if not _list_matches(want, got):
                out.append((path, want, got))
        elif _norm(want) != _norm(got):
            out.append((path, want, got))
    return out


def _list_matches(want: list[Any], got: Any) -> bool:
    if not isinstance(got, list) or len(got) != len(want):
        return False
    if not all(isinstance(w, dict) for w in want):
        return sorted(map(str, _norm(want))) == sorted(map(str, _norm(got)))
    named = all("name" in w for w in want)
    for i, w in enumerate(want):
        match = (next((g for g in got if isinstance(g, dict) and _norm(g.get("name"))
                       == _norm(w["name"])), None) if named else got[i])
        if match is None or differences(w, match):
            return False
    return True


def patch_body(diffs: list[tuple[str, Any, Any]]) -> dict[str, Any]:
    """The smallest PATCH: only the differing fields, nested as the resource nests them."""
    body: dict[str, Any] = {}
    for path, want, _ in diffs:
        *parents, leaf = path.split(".")
        node = body
        for k in parents:
            node = node.setdefault(k, {})
        node[leaf] = want
    return body


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
    blocked = [d for d in diffs if d[0] in op.create_only or (
        op.patch is not None and not contract.settable(op.resource_id, d[0]))]
    if blocked:
        raise BilldbError(f"{op.key} ({op.resource_id}): "
                          + "; ".join(f"{p} is {g!r}, the plan wants {w!r}" for p, w, g in blocked)
                          + ": Azure sets it only at create; recreate the resource to change it")
    seen: dict[str, Any] = {"action": "update" if diffs else "none",
                             "changes": [{"field": p, "want": w, "found": g} for p, w, g in diffs]}
    if diffs and op.patch is not None:
        seen["patch"] = patch_body(diffs)
    return seen


def _restart_pending(ops: list[Operation], clients: Clients, pending: set[str]) -> bool:
    """Whether the server needs a restart, as the server reports it: a parameter GET says
    isConfigPendingRestart, or a parameter about to change is not dynamic (isDynamicConfig
    false). No hand-kept list of static parameters."""
    for op in ops:
        if op.kind != "parameter":
            continue
        props = (clients.read(op.resource_id, op.api_version) or {}).get("properties") or {}
        # a parameter of a server not there yet: unknown, so restart after setting it
        if props.get("isConfigPendingRestart") or (
                op.key in pending and props.get("isDynamicConfig") is not True):
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
        doc["operations"] = [_planned(op, seen.get(op.key, {"action": "run"})) for op in todo]
        doc["unchanged"] = len(ops) - len(todo)
    else:
        doc["note"] = f"{how}: nothing was read, every operation is listed"
        doc["operations"] = [op.as_dict() for op in ops]
    doc["counts"] = operations.counts(ops)
    doc["total"] = len(ops)
    return doc


def _planned(op: Operation, seen: dict[str, Any]) -> dict[str, Any]:
    """How the operation will be sent: an existing server gets a PATCH of what differs."""
    doc = {**op.as_dict(), **seen}
    if "patch" in seen:
        doc.update(method="PATCH", body=operations.mask(doc.pop("patch")))
    return doc


def arm_message(exc: Exception) -> str:
    err = getattr(exc, "error", None)
    code = getattr(err, "code", None) or getattr(exc, "status_code", "?")
    msg = getattr(err, "message", None) or str(exc).splitlines()[0]
    return f"{code}: {msg}"


def check_patch(resource_id: str, patch: dict[str, Any]) -> None:
    bad = [p for p in contract.check_request(resource_id, "PATCH", patch)
           if p.severity == "error"]
    if bad:
        raise BilldbError(f"the PATCH of {resource_id} would break the API contract: "
                          + "; ".join(map(str, bad)))


def _sql_step(name: str, fn: Callable[[Target], str], t: Target, changed: list[str],
              progress: Callable[[str], None]) -> journal.Step:
    def run(_j: journal.Journal) -> str:
        try:
            detail = fn(t)
        except psycopg.Error as exc:
            raise BilldbError(f"{name} on {t.fqdn()}: {str(exc).strip()}") from None
        if detail.startswith("skipped"):
            progress(f"{name}: {detail}")
        elif not detail.endswith(("as planned", "present", "none pending")):
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
            seen = {} if op.action else observe(op, clients)
            if seen.get("action") == "none":
                return "unchanged"
            patch = seen.get("patch")
            what = (f"{'PATCH' if patch else op.method} {op.kind} "
                    f"{op.resource_id.rsplit('/', 1)[1]}")
            progress(f"{what} …")
            started = time.monotonic()
            try:  # each waits for its long-running operation
                if patch is not None and op.patch is not None:
                    check_patch(op.resource_id, patch)
                    op.patch(clients[op.client], patch)
                else:
                    op.send(clients[op.client], op.model)
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
