"""`billdb --env prod azure rotate-admin`: a new password for the flexible server's
administrator, through Azure's API, without losing it on the way (issue 22).

Microsoft's contract (Microsoft.DBforPostgreSQL flexibleServers, 2025-08-01 stable spec; the
SDK's 2026-10-01 models carry the same field metadata):
- `properties.administratorLoginPassword` is `format: password`, `x-ms-secret: true`, with
  x-ms-mutability [create, update] on ServerProperties and [update] on
  ServerPropertiesForPatch: it is written, never read back (a GET does not return it);
  `administratorLogin` is read-only in a PATCH. "As long as password authentication is
  enabled, this password can be changed at any time."
- Servers_Update (PATCH) answers 202 with `Azure-AsyncOperation`, `Location` and
  `Retry-After` and is long-running (`final-state-via: azure-async-operation`); the SDK's
  poller (`begin_update(...).result()`) waits for its end.

Journaled (billdb.ops.journal, in the prod state directory), each step resumable:
1. new secret: the next password generated once into `admin-password.next` (0600), before
   anything is sent, so a rerun after a kill sends the same one and billdb never loses the
   password Azure has;
2. server: PATCH of `properties.administratorLoginPassword`, checked against the contract
   first, waiting for the long-running operation (a rerun resends the same password, which
   is harmless);
3. store: `admin-password.next` renamed over `admin-password` (one rename): what `azure
   apply`, `azure dump` and the database-level part log in with from now on;
4. login: unless BILLDB_AZURE_SQL=off, a TLS login to the server as the administrator with the
   new password (proves Azure took it).
Only the primary is patched: a read replica's administrator is the primary's role, carried by
replication. The password is never printed, logged or written into the journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from billdb.azure import apply as az_apply
from billdb.azure import database as az_database
from billdb.azure import sdk, state
from billdb.azure.clients import Clients
from billdb.azure.operation import PG_API
from billdb.azure.target import Target
from billdb.errors import BilldbError
from billdb.ops import journal
from billdb.plan.models import Plan

Progress = Callable[[str], None]
OP = "azure rotate-admin"


@dataclass
class RotateReport:
    ok: bool
    server: str
    login: str
    method: str
    api_version: str
    seconds: float
    stored: str
    verified: str
    journal: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def patch_model(password: str) -> Any:
    """The PATCH body: only the password (ServerPropertiesForPatch, update-only)."""
    pg = sdk.pg()
    return pg.ServerForPatch(properties=pg.ServerPropertiesForPatch(
        administrator_login_password=password))


def _new_secret() -> str:
    made = state.ensure_next_admin_password()
    return "generated the next password (0600)" if made else "the next password was already made"


def _server(t: Target, clients: Clients, progress: Progress) -> str:
    password = state.next_admin_password()
    if password is None:  # the store step already ran in an earlier, interrupted run
        return "nothing to send: the password was already stored"
    if clients.read(t.server_id(), PG_API) is None:
        raise BilldbError(f"{t.server_id()} does not exist: create it with `billdb --env prod "
                          "azure apply` first")
    model = patch_model(password)
    az_apply.check_patch(t.server_id(), sdk.body(model))
    progress(f"PATCH server {t.plan.server.name} (administratorLoginPassword) …")
    started = time.monotonic()
    try:
        clients["pg"].servers.begin_update(t.rg, t.plan.server.name, model).result()
    except sdk.http_error() as exc:
        raise BilldbError(f"Azure refused the password change of {t.plan.server.name}: "
                          f"{az_apply.arm_message(exc)}") from None
    return f"Azure's operation succeeded in {time.monotonic() - started:.1f} s"


def _store() -> str:
    if state.promote_next_admin_password():
        return "admin-password replaced (0600)"
    return "admin-password already current"


def _login(t: Target) -> str:
    if not az_database.wanted():
        return "skipped (BILLDB_AZURE_SQL=off: no server to log in to)"
    with az_database.connect(t) as conn:
        conn.execute("SELECT 1")
    return f"logged in to {t.fqdn()} as {t.az.admin_login} with the new password"


def rotate(plan: Plan, plan_path: Any, progress: Progress = lambda _m: None) -> RotateReport:
    t, _ops = az_apply.load(plan, plan_path)
    clients = Clients(t)
    t0 = time.monotonic()
    j, outcome = journal.run(
        journal.directory(state.directory()), OP, {"target": t.server_id()},
        [journal.Step("new secret", lambda _j: _new_secret()),
         journal.Step("server", lambda _j: _server(t, clients, progress)),
         journal.Step("store", lambda _j: _store()),
         journal.Step("login", lambda _j: _login(t))],
        command="billdb --env prod azure rotate-admin", progress=progress)
    login = next(s for s in j.doc["steps"] if s["name"] == "login")
    return RotateReport(
        ok=True, server=t.server_id(), login=t.az.admin_login, method="PATCH",
        api_version=PG_API, seconds=round(time.monotonic() - t0, 3),
        stored=str(state.directory() / "admin-password"), verified=login.get("detail", ""),
        journal=outcome)
