"""The `billdb` command line: parse, call one operation, print a table or JSON. No logic."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from billdb import __version__
from billdb.cli import output
from billdb.context import Context, load_context
from billdb.errors import BilldbError

app = typer.Typer(
    help="Provision, prove, drill and operate the Bill-Inquiry PostgreSQL plan.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

PlanOpt = Annotated[Path | None, typer.Option(
    "--plan", help="Plan file (default: plans/bill-inquiry.yaml).", show_default=False)]
EnvOpt = Annotated[str, typer.Option("--env", help="Environment of the plan: local or prod.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


class State:
    plan: Path | None = None
    env: str = "local"

    def context(self) -> Context:
        return load_context(self.plan, self.env)


state = State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"billdb {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    plan: PlanOpt = None,
    env: EnvOpt = "local",
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version.")] = False,
) -> None:
    """billdb turns the Bill-Inquiry database plan into a running, verified system.

    The plan is plans/bill-inquiry.yaml; `--env local` (default) runs it on this machine
    with Patroni, etcd, PostgreSQL 15, pgBackRest and PgBouncer.
    """
    state.plan = plan
    if env not in ("local", "prod"):
        raise BilldbError(f"--env must be 'local' or 'prod', not {env!r}")
    state.env = env


def local_context() -> Context:
    ctx = state.context()
    if state.env != "local":
        raise BilldbError("this command runs the local environment; use `--env local`")
    return ctx


@app.command()
def up() -> None:
    """Converge the local environment to the plan (idempotent: a second run changes nothing)."""
    from billdb.ops import provision

    ctx = local_context()
    steps = output.progress_steps()
    provision.up(ctx, steps)
    output.summary(steps, "environment")


@app.command()
def down(purge: Annotated[bool, typer.Option(
        "--purge", help="Also delete the environment's data, secrets and certificates.")] = False,
) -> None:
    """Stop every process of the local environment (standbys first, the primary last)."""
    from billdb.ops import teardown

    ctx = local_context()
    steps = output.progress_steps()
    teardown.down(ctx, steps, purge=purge)
    output.summary(steps, "environment")


@app.command()
def verify(as_json: JsonOpt = False) -> None:
    """Check every plan item on the live system; exit 1 when a check fails."""
    from billdb.ops import verify as verify_op

    report = verify_op.verify(local_context())
    output.checks(report, as_json)
    output.exit_status(report["ok"])


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Show the members (role, state, lag, ports, PIDs) and the other services."""
    from billdb.ops import status as status_op

    report = status_op.status(local_context())
    output.status(report, as_json)
    output.exit_status(report["ok"])


@app.command()
def dsn(
    role: Annotated[str, typer.Option("--role", help="A login role of the plan, or 'admin'.")],
    route: Annotated[str, typer.Option("--route", help="write (primary) or read (replica, "
                                       "falling back to the primary).")] = "write",
) -> None:
    """Print a libpq URI (TLS verifying the CA; the password comes from a 0600 passfile)."""
    from billdb.ops import connections

    typer.echo(connections.dsn(local_context(), role, route))


@app.command()
def switchover(
    to: Annotated[str | None, typer.Option("--to", help="Zone member to promote (default: "
                                           "the synchronous standby).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Planned switch of the primary inside the zone pair, measured by a live writer."""
    from billdb.ops import switchover as op

    report = op.switchover(local_context(), to, progress=output.note)
    output.conclude(report, as_json)


def _register_subcommands() -> None:
    from billdb.cli.drill_cmd import dr_app, drill_app

    app.add_typer(drill_app, name="drill")
    from billdb.cli import backup_cmd

    backup_cmd.register(app)
    app.add_typer(dr_app, name="dr")
    from billdb.cli.plan_cmd import plan_app

    app.add_typer(plan_app, name="plan")
    from billdb.cli import workload_cmd

    workload_cmd.register(app)


_register_subcommands()


def main() -> None:
    # The pools log every failed reconnect while a failover runs; drills report outcomes.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        app()
    except BilldbError as exc:
        output.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        output.error("interrupted")
        sys.exit(130)
