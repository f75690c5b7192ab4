"""`billdb tls status|renew|rotate-ca`: the certificates' lifecycle (docs/tls.md). Parse,
call one operation, print; no logic here."""

from __future__ import annotations

from typing import Annotated

import typer

from billdb.cli import output
from billdb.cli.common import JsonOpt, local_context

tls_app = typer.Typer(help="TLS certificates: status, renewal, CA rotation (no restart).",
                      no_args_is_help=True)


@tls_app.command("status")
def tls_status(as_json: JsonOpt = False) -> None:
    """The server certificate (lifetime, life used, when it renews, key identifiers) and the
    CAs clients trust; exit 1 when it is unfit or due."""
    from billdb.ops import tls

    output.conclude(tls.status(local_context()), as_json)


@tls_app.command("renew")
def tls_renew(
    force: Annotated[bool, typer.Option("--force", help="Renew even if not yet due.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Issue a new server certificate when two-thirds of its life has passed (the scheduler
    runs this daily), then reload PostgreSQL and PgBouncer: no restart, no dropped
    connection."""
    from billdb.ops import tls

    output.conclude(tls.renew(local_context(), force=force), as_json)


@tls_app.command("rotate-ca")
def tls_rotate_ca(as_json: JsonOpt = False) -> None:
    """Replace the CA with an overlap: the new CA joins the bundle clients trust, the server
    certificate moves to it, then the old CA leaves the bundle; a reload after each step.
    Journaled: a killed run is finished by running it again."""
    from billdb.ops import tls

    output.conclude(tls.rotate_ca(local_context(), progress=output.note), as_json)
