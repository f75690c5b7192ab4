"""`billdb secrets rotate --role R`: a login role's password changed without downtime. Parse,
call one operation, print; no logic here."""

from __future__ import annotations

from typing import Annotated

import typer

from billdb.cli import output
from billdb.cli.common import JsonOpt, local_context

secrets_app = typer.Typer(help="Credentials: rotation without downtime.", no_args_is_help=True)


@secrets_app.command("rotate")
def secrets_rotate(
    role: Annotated[str, typer.Option("--role", help="A login role of the plan "
                                      "(roles.login).")],
    as_json: JsonOpt = False,
) -> None:
    """A new password for the role: its SCRAM verifier on the server, the passfile and
    PgBouncer's auth file follow together; open connections keep working, new ones use the
    new secret, which is never printed. Journaled: a killed run is finished by running it
    again."""
    from billdb.ops import secrets_rotate as op

    output.conclude(op.rotate(local_context(), role, progress=output.note), as_json)
