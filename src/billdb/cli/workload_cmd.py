"""`billdb keys|partitions|pooler …`, `billdb bench`, `billdb pgbench`: the Bill-Inquiry
workload's commands. Parse, call one operation, print; no logic here."""

from __future__ import annotations

from typing import Annotated

import typer

from billdb.cli import output
from billdb.cli.common import JsonOpt, TimeHelp, local_context

keys_app = typer.Typer(help="Column-encryption keys (AES-256-GCM, in the secrets store).",
                       no_args_is_help=True)
partitions_app = typer.Typer(help="Monthly partitions of the history tables.",
                             no_args_is_help=True)



@keys_app.command("rotate")
def keys_rotate(
    as_json: JsonOpt = False,
    batch: Annotated[int, typer.Option("--batch", min=1, max=100000,
                                       help="Rows re-encrypted per transaction.")] = 500,
) -> None:
    """Add a key, make it active, re-encrypt every value sealed with an older key in short
    batches while the service runs; report the counts. Old keys stay (to read old backups)."""
    from billdb.ops import keys

    report = keys.rotate(local_context(), batch=batch, progress=output.note)
    output.conclude(report, as_json)


@keys_app.command("status")
def keys_status(as_json: JsonOpt = False) -> None:
    """Key ids (never the keys), the active one, and how many values each sealed."""
    from billdb.ops import keys

    report = keys.status(local_context())
    output.conclude(report, as_json)


@partitions_app.command("list")
def partitions_list(
    as_json: JsonOpt = False,
    at: Annotated[str | None, typer.Option(
        "--at", help=f"Only the partitions holding rows of time T: {TimeHelp}.")] = None,
) -> None:
    """The partitions of the history tables with their bounds and owners."""
    from billdb import times
    from billdb.ops import partitions

    ctx = local_context()
    when = times.parse(at, ctx.plan.database.timezone, "--at") if at else None
    rows = [{"table": p.parent, "partition": p.partition, "from": p.lower, "to": p.upper,
             "owner": p.owner}
            for p in partitions.partitions(ctx) if when is None or p.holds(when)]
    if as_json:
        output.emit_json({"at": when, "partitions": rows})
        return
    shown = [r | {"bounds": f"{output.when(r['from'])}\n{output.when(r['to'])}"} for r in rows]
    output.print_table("partitions" + (f" holding {output.when(when)}" if when else ""),
                       ("partition", "bounds", "owner"), shown,
                       ("partition", "from / to", "owner"))


@partitions_app.command("ensure")
def partitions_ensure(as_json: JsonOpt = False) -> None:
    """Create the partitions of this month and the next ones (the scheduler's
    partitions.create job, run now)."""
    from billdb.ops import partitions

    created = partitions.ensure(local_context())
    output.report({"created": created}, as_json)


@partitions_app.command("retention")
def partitions_retention(as_json: JsonOpt = False) -> None:
    """Drop history older than *.history.retention.days (the scheduler's partitions.retention
    job, run now)."""
    from billdb.ops import partitions

    output.report(partitions.apply_retention(local_context()), as_json)


pooler_app = typer.Typer(help="PgBouncer in front of the servers (transaction mode, TLS).",
                         no_args_is_help=True)


@pooler_app.command("follow")
def pooler_follow(
    pidfile: Annotated[str | None, typer.Option("--pidfile", help="Identifies the supervised "
                                                "instance (written by `billdb up`).")] = None,
) -> None:
    """Keep PgBouncer on the primary: rewrite and reload it when Patroni's leader changes
    (the supervised `pooler-follower` process runs this)."""
    from billdb.ops import pooler

    pooler.follow(local_context())


@pooler_app.command("status")
def pooler_status(as_json: JsonOpt = False) -> None:
    """Where PgBouncer points, and which server answers through it."""
    from billdb.ops import pooler

    report = pooler.status(local_context())
    output.conclude(report, as_json)


BenchUsersOpt = Annotated[int, typer.Option("--users", min=1, help="Simulated users.")]
BenchDurationOpt = Annotated[float, typer.Option(
    "--duration", min=1, help="Measured seconds (after a warm-up).")]
BenchThinkMsOpt = Annotated[float, typer.Option(
    "--think-ms", min=0,
    help="Pause between a user's operations (1000: N users ~ N operations/s).")]
BenchWorkersOpt = Annotated[int, typer.Option(
    "--workers", min=1, max=64,
    help="Client processes (each one service pod with its own pools).")]
BenchPodsOpt = Annotated[int | None, typer.Option(
    "--pods", min=1, help="Service pods simulated (each its own pools of the plan's "
    "pool.size), spread over the workers (default: one per worker).")]
BenchThroughPoolerOpt = Annotated[bool, typer.Option(
    "--through-pooler", help="Connect through PgBouncer.")]
BenchComparePgbenchOpt = Annotated[bool, typer.Option(
    "--compare-pgbench", help="Then run the same statements under pgbench with as many "
    "clients, for as long, and report bench_sps, pgbench_sps and their ratio.")]
BenchCompareDirectOpt = Annotated[bool, typer.Option(
    "--compare-direct", help="With --through-pooler: one run, --duration through PgBouncer "
    "and --duration straight to the servers, in turns of about 5 s back to back (direct, "
    "pooled, pooled, direct, ...); adds direct (tps, p50, p95, p99, errors), each turn's "
    "p99, p99_ratio_to_direct and median_turn_p99_ratio.")]
BenchEncryptionOverheadOpt = Annotated[bool, typer.Option(
    "--encryption-overhead", help="Run twice, with and without column encryption, and "
    "report what AES-GCM adds to the flow's p50.")]
BenchKeepDataOpt = Annotated[bool, typer.Option("--keep-data", help="Keep the rows written.")]
BenchGraceOpt = Annotated[float | None, typer.Option(
    "--grace", min=0, help="Seconds after the measured window that users may take to end "
    "(default: the client's deadline, the plan's connection + statement timeout, plus 5 "
    "s); users still in an operation then are cut off, reported as `stuck` (with the "
    "operations they were in) and counted as errors, and the bench exits 1.")]
BenchInjectStuckOpt = Annotated[int, typer.Option(
    "--inject-stuck", min=0, hidden=True,
    help="Tests: this many users never end, to prove the watchdog.")]
BenchCapacityOpt = Annotated[bool, typer.Option(
    "--capacity", help="Search the largest user count with p99 under the plan's "
    "monitoring.response_time_ms: --users, then +--step, up to --max-users.")]
BenchStepOpt = Annotated[int, typer.Option(
    "--step", min=1, help="Users added per capacity run.")]
BenchMaxUsersOpt = Annotated[int, typer.Option(
    "--max-users", min=1, help="Where the capacity search stops.")]


def bench(
    users: BenchUsersOpt = 50,
    duration: BenchDurationOpt = 10,
    think_ms: BenchThinkMsOpt = 1000,
    workers: BenchWorkersOpt = 1,
    pods: BenchPodsOpt = None,
    through_pooler: BenchThroughPoolerOpt = False,
    compare_pgbench: BenchComparePgbenchOpt = False,
    compare_direct: BenchCompareDirectOpt = False,
    encryption_overhead: BenchEncryptionOverheadOpt = False,
    keep_data: BenchKeepDataOpt = False,
    grace: BenchGraceOpt = None,
    inject_stuck: BenchInjectStuckOpt = 0,
    capacity: BenchCapacityOpt = False,
    step: BenchStepOpt = 250,
    max_users: BenchMaxUsersOpt = 5000,
    as_json: JsonOpt = False,
) -> None:
    """The Bill-Inquiry workload: each user repeats the service flow (customer, create, KOS
    call, complete, poll, history page, cache) on the real repository; prints latencies."""
    from billdb.ops.bench import compare

    if capacity:
        report = compare.capacity(local_context(), start=users, step=step, max_users=max_users,
                                  duration_s=duration, think_ms=think_ms, workers=workers,
                                  through_pooler=through_pooler, progress=output.note,
                                  pods=pods)
        output.report(report, as_json)
        output.exit_status(report["capacity_users"] is not None)
    report = compare.bench(local_context(), users=users, duration_s=duration, think_ms=think_ms,
                           workers=workers, through_pooler=through_pooler,
                           compare_pgbench=compare_pgbench,
                           encryption_overhead=encryption_overhead, keep_data=keep_data,
                           progress=output.note, pods=pods, compare_direct=compare_direct,
                           grace_s=grace, inject_stuck=inject_stuck)
    output.report(report, as_json)
    output.exit_status(report["errors"] == 0)


def pgbench(
    duration: Annotated[int | None, typer.Option("--duration", min=1, help="Seconds per run "
                                                 "(default: the plan's tests.pgbench).")] = None,
    only: Annotated[str, typer.Option("--only", help="both, builtin or service.")] = "both",
    as_json: JsonOpt = False,
) -> None:
    """The plan's §13.2 pgbench test (scale, clients, threads from tests.pgbench) and the
    service's statements under pgbench, in a scratch database (never the service's)."""
    from billdb.errors import BilldbError
    from billdb.ops.bench import pgbench as op

    if only not in ("both", "builtin", "service"):
        raise BilldbError("--only must be both, builtin or service")
    report = op.run(local_context(), duration, only, progress=output.note)
    output.conclude(report, as_json)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
    app.command("pgbench")(pgbench)
    app.add_typer(pooler_app, name="pooler")
    app.add_typer(keys_app, name="keys")
    app.add_typer(partitions_app, name="partitions")
