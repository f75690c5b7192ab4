"""`billdb secrets rotate --role R`: a login role's password changed without downtime
(issue 22). Every holder follows together: the server's SCRAM verifier, the passfile the
clients and billdb's tools read at each new connection, and PgBouncer's auth file (the
server's verifier, so PgBouncer's SCRAM pass-through keeps logging in). Connections already
open stay authenticated; new ones use the new secret.

Journaled (billdb.ops.journal), each step resumable:
1. new secret: generated once into the 0600 secrets store as the role's next password;
2. server: ALTER ROLE ... PASSWORD with its SCRAM verifier (the clear text never reaches the
   server);
3. clients: the next password becomes the role's, then the passfile, the service's Secret
   volume (`<state_dir>/secrets/secret-volume`, switched atomically as the kubelet does; the
   Java datasources read it for each new connection, docs/java-client.md) and PgBouncer's
   auth file are rewritten and PgBouncer reloaded, right after the server step (a connection
   attempt in the few milliseconds between is refused and retried by the pools' reconnect
   loop).
The secret is never printed, logged or written into the journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.converge import roles as role_resource
from billdb.engines import pgbouncer
from billdb.engines.secrets import SecretStore, generate_password
from billdb.errors import ArgumentError
from billdb.ops import journal, pooler, provision
from billdb.state import cluster

Progress = Callable[[str], None]


def _next_key(role: str) -> str:
    return f"next:role:{role}"


def _new_secret(ctx: Context, role: str) -> str:
    store = SecretStore(ctx.layout.secrets_file)
    created = store.ensure(_next_key(role), generate_password)
    return "generated the next password" if created else "the next password was already made"


def _server(ctx: Context, role: str) -> str:
    store = SecretStore(ctx.layout.secrets_file)
    with cluster.admin_connect(ctx) as conn:
        reset = role_resource.converge_passwords(conn, {role: store.get(_next_key(role))})
    return "the server's verifier changed" if reset else "the server already had it"


def _clients(ctx: Context, role: str) -> str:
    store = SecretStore(ctx.layout.secrets_file)
    if store.has(_next_key(role)):
        store.put(store.password_key(role), store.get(_next_key(role)))
        store.discard(_next_key(role))
    provision.write_passfile(ctx, store)
    done = ["passfile", "Secret volume"]
    if ctx.plan.pooler.enabled:
        pooler.write_auth_file(ctx)
        if pgbouncer.reload(pgbouncer.service(ctx.local, ctx.layout)):
            done.append("PgBouncer's auth file (reloaded)")
    return "updated " + ", ".join(done)


def rotate(ctx: Context, role: str, progress: Progress = lambda _m: None) -> dict[str, Any]:
    logins = list(ctx.plan.roles.login)
    if role not in logins:
        raise ArgumentError(f"--role must be a login role of the plan ({', '.join(logins)}), "
                            f"not {role!r}")
    t0 = time.monotonic()
    _, record = journal.run(
        journal.directory(ctx.layout.state_dir), "secrets rotate", {"role": role},
        [journal.Step("new secret", lambda _j: _new_secret(ctx, role)),
         journal.Step("server", lambda _j: _server(ctx, role)),
         journal.Step("clients", lambda _j: _clients(ctx, role))],
        command=f"billdb secrets rotate --role {role}", progress=progress)
    return {"role": role, "rotated": True, "seconds": round(time.monotonic() - t0, 3),
            "holders": ["server verifier", "passfile", "secret volume",
                        *(["pgbouncer auth_file"] if ctx.plan.pooler.enabled else [])],
            "ok": True, "journal": record}
