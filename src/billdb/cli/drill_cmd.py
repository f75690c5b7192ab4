"""`billdb drill …`: measured failure drills (each prints JSON with --json)."""

from __future__ import annotations

from typing import Annotated

import typer

from billdb.cli import output
from billdb.cli.common import JsonOpt, local_context

drill_app = typer.Typer(help="Measured drills: failover, disaster recovery, restore.",
                        no_args_is_help=True)


@drill_app.command("failover")
def failover(
    as_json: JsonOpt = False,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=20,
                                        help="Run N drills and report median/worst.")] = 1,
    postmaster_only: Annotated[bool, typer.Option(
        "--postmaster-only", help="Kill only the primary's postmaster (Patroni stays alive, "
        "so it recovers the primary in place).")] = False,
    crash: Annotated[bool, typer.Option(
        "--crash", help="A crashed process, not a lost node: supervision restarts the killed "
        "Patroni at once; reports whether it kept the leader key.")] = False,
) -> None:
    """Crash the primary (SIGKILL its postmaster and its Patroni) while a writer commits
    through the application route; report RTO, lost commits and the old primary's rejoin."""
    from billdb.ops.drills import failover as drill

    report = drill.run(local_context(), repeat=repeat, postmaster_only=postmaster_only,
                       progress=output.note, crash=crash)
    output.conclude(report, as_json)


@drill_app.command("dr")
def dr(as_json: JsonOpt = False) -> None:
    """Region failure: lose both zone members, promote the read replica, repoint the
    application route; report RTO and what asynchronous replication lost."""
    from billdb.ops.drills import dr as drill

    report = drill.run(local_context(), progress=output.note)
    output.conclude(report, as_json)


@drill_app.command("dcs")
def dcs(
    kill: Annotated[bool, typer.Option(
        "--kill", help="Kill the etcd member that leads the raft group (SIGKILL) instead of "
        "freezing every member.")] = False,
    freeze: Annotated[bool, typer.Option(
        "--freeze", help="Freeze every etcd member (SIGSTOP), then resume them (the "
        "default).")] = False,
    seconds: Annotated[float, typer.Option("--seconds", min=1, max=600,
                                           help="How long the fault lasts.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """The consensus store goes away while a writer commits: report the longest write gap
    (goal: 5 s frozen, 1 s with one member killed), lost commits, and whether etcd and the
    cluster came back whole by themselves. Journaled: a killed drill is reverted by running
    it again."""
    from billdb.errors import ArgumentError
    from billdb.ops.drills import dcs as drill

    if kill and freeze:
        raise ArgumentError("--kill and --freeze are two drills: choose one")
    report = drill.run(local_context(), "kill" if kill else "freeze", seconds,
                       progress=output.note)
    output.conclude(report, as_json)


@drill_app.command("archive-outage")
def archive_outage(
    minutes: Annotated[float, typer.Option("--minutes", min=0.5, max=120,
                                           help="How long the geo repository is away.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Stop the geo repository (repo2, Azurite) for N minutes while a writer commits: report
    rows lost, the pg_wal peak against its bound, the archive alert naming repo2 and its
    seconds to fire (goal: the RPO), the catch-up seconds and backup verify afterwards.
    Journaled: a killed drill is reverted (Azurite started) by running it again."""
    from billdb.ops.drills import archive_outage as drill

    report = drill.run(local_context(), minutes, progress=output.note)
    output.conclude(report, as_json)


dr_app = typer.Typer(help="Disaster recovery operations.", no_args_is_help=True)


@dr_app.command("rebuild")
def rebuild() -> None:
    """After `drill dr`: restart the zone pair around the promoted replica, re-enable
    synchronous replication, fail back to a zone and restore the replica's role."""
    from billdb.ops import dr as op

    steps = output.progress_steps()
    op.rebuild(local_context(), steps)
    output.summary(steps, "topology")
