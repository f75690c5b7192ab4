"""The `billdb` command line: parse, call one operation, print a table or JSON. No logic."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Literal, NoReturn

import typer
import typer.main
from typer._click.exceptions import ClickException
from typer.exceptions import Abort

from billdb import __version__
from billdb.cli import (
    appconfig_cmd,
    azure_cmd,
    backup_cmd,
    failure,
    helptext,
    monitor_cmd,
    ops_cmd,
    output,
    workload_cmd,
)
from billdb.cli.common import EnvOpt, JsonOpt, PlanOpt, Selection, local_context
from billdb.cli.drill_cmd import dr_app, drill_app
from billdb.cli.plan_cmd import plan_app
from billdb.cli.secrets_cmd import secrets_app
from billdb.cli.tls_cmd import tls_app
from billdb.errors import ArgumentError
from billdb.ops import registry
from billdb.plan import locate


def _satellites() -> registry.Registry:
    from billdb.cli import satellites  # the composition root, loaded when ops first asks

    return satellites.contributions()


registry.install_lazily(_satellites)  # what monitoring and the checklists add to ops

app = typer.Typer(
    help="Provision, prove, drill and operate the Bill-Inquiry PostgreSQL plan.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"billdb {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    plan: PlanOpt = None,
    env: EnvOpt = "local",
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version.")] = False,
) -> None:
    """billdb turns the Bill-Inquiry database plan into a running, verified system.

    The plan: --plan, else $BILLDB_PLAN, else plans/bill-inquiry.yaml here, else the copy
    `billdb up` keeps in the state directory. `--env local` (default) runs it on this machine
    with Patroni, etcd, PostgreSQL 15, pgBackRest and PgBouncer.
    """
    if env not in ("local", "prod"):
        raise ArgumentError(f"--env must be 'local' or 'prod', not {env!r}")
    found = locate.locate(plan)
    if found.path is not None and found.source != "--plan":
        output.note_plan(found.describe())
    ctx.obj = Selection(found.path, env)


@app.command()
def up() -> None:
    """Converge the local environment to the plan (idempotent: a second run changes nothing)."""
    from billdb.ops import journal, provision
    from billdb.plan import budget

    ctx = local_context()
    budget.refuse_unless_held(ctx.plan)
    journal.refuse_if_open(journal.directory(ctx.layout.state_dir), "billdb up")
    steps = output.progress_steps()
    provision.up(ctx, steps)
    copy = locate.keep_copy(ctx.plan_path, ctx.layout.state_dir)
    output.summary(steps, "environment")
    output.note(f"the environment's plan: {copy} (used when neither --plan nor $BILLDB_PLAN "
                "is given outside the clone)")


@app.command()
def down(purge: Annotated[bool, typer.Option(
        "--purge", help="Also delete the environment's data, secrets and certificates "
        "(needs --yes).")] = False,
         yes: Annotated[bool, typer.Option(
        "--yes", help="Confirm --purge: the data, backups and keys are deleted.")] = False,
) -> None:
    """Stop every process of the local environment (standbys first, the primary last)."""
    from billdb.ops import teardown

    if purge and not yes:
        raise ArgumentError("down --purge deletes the environment's data, backups and keys: "
                            "repeat with --yes")
    ctx = local_context()
    steps = output.progress_steps()
    teardown.down(ctx, steps, purge=purge)
    output.summary(steps, "environment")


@app.command()
def verify(as_json: JsonOpt = False) -> None:
    """Check every plan item on the live system; exit 1 when a check fails."""
    from billdb.ops import verify as verify_op

    ctx = local_context()
    with output.heartbeat("checking every plan item on the live system"):
        report = verify_op.verify(ctx)
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
    route: Annotated[Literal["write", "read"], typer.Option(
        "--route", help="write (primary) or read (replica, "
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


@app.command()
def update(
    force: Annotated[bool, typer.Option("--force", help="Roll through the members even when "
                                        "they already run the installed binaries.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rolling restart onto newly installed PostgreSQL binaries: standbys first, a measured
    switchover, then the old primary (journaled: a rerun finishes a killed one)."""
    from billdb.ops import update as op

    report = op.update(local_context(), force=force, progress=output.note)
    output.conclude(report, as_json)


app.add_typer(drill_app, name="drill")
backup_cmd.register(app)
app.add_typer(dr_app, name="dr")
app.add_typer(plan_app, name="plan")
app.add_typer(tls_app, name="tls")
app.add_typer(secrets_app, name="secrets")
workload_cmd.register(app)
azure_cmd.register(app)  # --env prod: azure …, cost
appconfig_cmd.register(app)
monitor_cmd.register(app)  # alerts, report …, monitor exporter|receiver
ops_cmd.register(app)  # audit, checklist, test-plan, incidents


def main() -> None:
    # The pools log every failed reconnect while a failover runs; drills report outcomes.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    as_json = "--json" in sys.argv[1:]
    helptext.show_flags_as_flags()
    command = typer.main.get_command(app)
    helptext.tidy(command)
    try:
        code = command.main(args=sys.argv[1:], prog_name="billdb", standalone_mode=not as_json)
    except ClickException as exc:  # only with --json: click's own message otherwise
        _fail(failure.usage(exc.format_message(), exc.exit_code), as_json)
    except Abort:
        _fail(failure.classify(KeyboardInterrupt()), as_json)  # type: ignore[arg-type]
    except BaseException as exc:  # every failure leaves one line (and one doc with --json)
        if isinstance(exc, SystemExit | typer.Exit):
            raise
        found = failure.classify(exc)
        if found is None:
            if as_json:
                output.emit_json(failure.internal(exc).document())
            raise
        _fail(found, as_json)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(found: failure.Failure, as_json: bool) -> NoReturn:
    if as_json:
        output.emit_json(found.document())
    output.error(found.message)
    sys.exit(found.exit_code)
