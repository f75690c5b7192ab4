"""`billdb backup|restore|dump|scheduler …`, `billdb drill restore`: parse, call one op, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from billdb.cli import output
from billdb.cli.cells import cell
from billdb.cli.common import JsonOpt, TimeHelp, local_context
from billdb.cli.drill_cmd import drill_app
from billdb.errors import BilldbError

backup_app = typer.Typer(help="Physical backups with pgBackRest (repo1 + the geo copy repo2).")
restore_app = typer.Typer(help="Point-in-time restore into a new instance beside the cluster.")
dump_app = typer.Typer(help="Logical backups: pg_dump custom format, kept per the plan.")
scheduler_app = typer.Typer(help="billdb's job scheduler (started by `billdb up`).",
                            no_args_is_help=True)


def _backup_table(backups: list[dict]) -> None:
    """Two tables that fit 80 columns: when and how big, then the WAL range and storage."""
    rows = [dict(b) for b in backups]
    tz = output.zone()
    for r in rows:  # start above stop, each whole, in the plan's zone
        r["when"] = "\n".join(cell(r.get(k), tz) for k in ("start", "stop"))
    output.print_table("backups", ("label", "repo", "type", "when", "size_bytes"), rows,
                       ("label", "repo", "type", "start / stop", "size"))
    for r in rows:
        r["wal"] = f"{r.get('wal_start')}\n{r.get('wal_stop')}"
    output.print_table("backups: WAL range and storage", ("label", "repo", "wal",
                                                         "repo_size_bytes", "cipher"), rows,
                       ("label", "repo", "WAL start / stop", "in repo", "cipher"))


@backup_app.callback(invoke_without_command=True)
def backup(
    ctx: typer.Context,
    kind: Annotated[Literal["full", "diff", "incr"], typer.Option(
        "--type", help="full, diff or incr.")] = "full",
    as_json: JsonOpt = False,
) -> None:
    """Take a backup into repo1 and repo2 (from a standby when one streams)."""
    if ctx.invoked_subcommand:
        return
    from billdb.ops.backup import physical

    report = physical.take_backup(local_context(), kind,
                                  on_repo=lambda r: output.note(f"{kind} backup to repo{r} …"))
    output.conclude(report, as_json)


@backup_app.command("list")
def backup_list(as_json: JsonOpt = False) -> None:
    """Every backup in every repository: type, start, stop, size, WAL range, repo, cipher."""
    from billdb.ops.backup import physical

    report = physical.listing(local_context())
    if as_json:
        output.emit_json(report)
    else:
        _backup_table(report["backups"])
    output.exit_status(report["ok"])


@backup_app.command("verify")
def backup_verify(as_json: JsonOpt = False) -> None:
    """pgBackRest verify of both repositories; exit 1 when a file is damaged."""
    from billdb.ops.backup import physical

    ctx = local_context()
    with output.heartbeat("pgbackrest verify of repo1 and repo2"):
        report = physical.verify(ctx)
    output.conclude(report, as_json)


@backup_app.command("schedule")
def backup_schedule(as_json: JsonOpt = False) -> None:
    """The scheduled jobs: next run, schedule (in the plan's zone), last result."""
    from billdb.ops.backup import health

    report = health.schedule(local_context())
    if as_json:
        output.emit_json(report)
        return
    rows = [j | {"last": _last_run(j)} for j in report["jobs"]]
    output.print_table("scheduled jobs", ("job", "next_run", "schedule", "last"), rows,
                       ("job", "next run", "schedule", "last run"))
    sched = report["scheduler"]
    output.console().print(f"scheduler: {sched['state']} (pid {sched.get('pid') or '-'}); "
                           f"log {sched.get('log')}", highlight=False, soft_wrap=True)


def _last_run(job: dict) -> str:
    if job.get("last_ok") is None:
        return "not run yet"
    verdict = "ok" if job["last_ok"] else "failed"
    return f"{verdict} {output.when(job.get('last_end'))}: {job.get('last_detail') or ''}"


@restore_app.callback(invoke_without_command=True)
def restore(
    ctx: typer.Context,
    time: Annotated[str | None, typer.Option(
        "--time", help=f"Target time: {TimeHelp}.")] = None,
    name: Annotated[str | None, typer.Option("--as", help="Name of the new instance.")] = None,
    repo: Annotated[int | None, typer.Option("--repo", help="Restore from this repository "
                                             "(default: the first that has the backup).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore the cluster as it was at --time into a NEW instance on its own port."""
    if ctx.invoked_subcommand:
        return
    if not time or not name:
        raise BilldbError("restore needs --time T and --as NAME (or a subcommand: "
                          "promote, drop, list)")
    from billdb.ops.backup import restore as op

    report = op.restore(local_context(), time, name, repo=repo, progress=output.note)
    output.report(report, as_json)


@restore_app.command("list")
def restore_list(as_json: JsonOpt = False) -> None:
    """The copies restored beside the cluster."""
    from billdb.ops.backup import restore as op

    report = op.listing(local_context())
    if as_json:
        output.emit_json(report)
    elif not report["copies"]:
        output.console().print("no restored copies")
    else:
        output.print_table("restored copies", ("name", "state", "target_time", "recovered_to"),
                           report["copies"], ("name", "state", "target", "recovered to"))
        for c in report["copies"]:
            output.console().print(f"{c['name']} (port {c['port']}, pid {c.get('pid') or '-'}): "
                                   f"{c['dsn']}", highlight=False, soft_wrap=True)


@restore_app.command("drop")
def restore_drop(name: str, as_json: JsonOpt = False) -> None:
    """Stop a restored copy and delete its files."""
    from billdb.ops.backup import restore as op

    output.report(op.drop(local_context(), name), as_json)


@restore_app.command("promote")
def restore_promote(
    name: str,
    as_json: JsonOpt = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the cluster's current data is "
                                      "replaced by the copy.")] = False,
) -> None:
    """Make a restored copy the new primary of the topology (the plan's data-corruption
    scenario: restore beside, verify, switch). Stops the cluster, puts the copy's data in
    place of the primary's, re-initialises the other members from it, then takes a full backup
    of the new timeline."""
    if not yes:
        raise BilldbError("restore promote replaces the cluster's data with the copy's: "
                          "repeat with --yes")
    from billdb.ops.backup import promote as op

    report = op.promote(local_context(), name, progress=output.note)
    output.conclude(report, as_json)


@dump_app.callback(invoke_without_command=True)
def dump(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Dump the service database (pg_dump -Fc as the backup role, over TLS)."""
    if ctx.invoked_subcommand:
        return
    from billdb.ops.backup import dumps

    output.report(dumps.dump(local_context()), as_json)


@dump_app.command("list")
def dump_list(as_json: JsonOpt = False) -> None:
    """The logical backups kept (retention from the plan)."""
    from billdb.ops.backup import dumps

    report = dumps.listing(local_context())
    if as_json:
        output.emit_json(report)
    elif not report["dumps"]:
        output.console().print("no dumps")
    else:
        output.print_table("logical backups", ("file", "created_at", "size_bytes", "expires_at"),
                           report["dumps"], ("file", "created", "size", "expires"))


@dump_app.command("restore")
def dump_restore(
    file: Annotated[Path, typer.Argument(help="A dump file (see `billdb dump list`).")],
    into: Annotated[str, typer.Option("--into", help="Name of the NEW database to create.")],
    as_json: JsonOpt = False,
) -> None:
    """Restore a dump into a new database and compare its row counts with the dump's
    (`billdb dump drop NAME` drops it afterwards)."""
    from billdb.ops.backup import dumps

    report = dumps.restore(local_context(), file, into)
    output.report(report, as_json)
    output.exit_status(report["rows_match"])


@dump_app.command("drop")
def dump_drop(
    name: Annotated[str, typer.Argument(help="A database `dump restore --into` created.")],
    as_json: JsonOpt = False,
) -> None:
    """Drop a database that `dump restore` created (and only such a database)."""
    from billdb.ops.backup import dumps

    output.report(dumps.drop(local_context(), name), as_json)


@scheduler_app.command("run")
def scheduler_run(
    pidfile: Annotated[Path | None, typer.Option("--pidfile", help="Identifies the supervised "
                                                 "instance (written by `billdb up`).")] = None,
    state: Annotated[Path | None, typer.Option("--state", help="State file (default: the "
                                               "environment's scheduler/state.json).")] = None,
    exit_after: Annotated[int | None, typer.Option(
        "--exit-after", min=1, help="Exit after N job runs (tests).")] = None,
) -> None:
    """Run the scheduled jobs of the plan until stopped (SIGTERM)."""
    from billdb.ops.scheduler import runner

    failures = runner.run(local_context(), state, exit_after)
    output.exit_status(failures == 0)


@drill_app.command("restore")
def drill_restore(
    as_json: JsonOpt = False,
    writes_s: Annotated[float, typer.Option("--after-s", help="Seconds of writes after the "
                                            "target time, before the damage.")] = 2.0,
) -> None:
    """The plan's backup-recovery test: marker rows, time T, more writes, damage, restore to T
    beside the cluster, compare table checksums, pg_amcheck, drop the copy."""
    from billdb.ops.backup import drill

    report = drill.run(local_context(), writes_s=writes_s, progress=output.note)
    output.conclude(report, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
    app.add_typer(restore_app, name="restore")
    app.add_typer(dump_app, name="dump")
    app.add_typer(scheduler_app, name="scheduler")
