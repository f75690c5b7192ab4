"""`billdb audit security`, `billdb checklist …`, `billdb test-plan`, `billdb incidents`:
operations (plan §13, §14). Parsing and printing only; the work is in billdb.operations."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from billdb.cli import output
from billdb.cli.common import JsonOpt, local_context, today

audit_app = typer.Typer(help="Audits of the live environment.", no_args_is_help=True)
checklist_app = typer.Typer(help="The plan's §14.1 checklists (run, store, history).",
                            no_args_is_help=True)
TodayOpt = Annotated[str | None, typer.Option("--today", help="Date for end-of-life checks "
                                              "(YYYY-MM-DD; default $BILLDB_TODAY or today).")]


def _table(title: str, rows: list[dict[str, Any]], cols: tuple[str, ...]) -> None:
    output.print_table(title, cols, rows)


def _counts(summary: dict[str, int]) -> str:
    """{'pass': 95, 'fail': 1} -> '95 pass, 1 fail'."""
    return ", ".join(f"{n} {status}" for status, n in summary.items())


@audit_app.command("security")
def security(as_json: JsonOpt = False, today_opt: TodayOpt = None) -> None:
    """CIS PostgreSQL 15 / pgdsat style controls; exit 1 when one fails."""
    from billdb.operations import audit

    ctx = local_context()
    with output.heartbeat("auditing the security controls"):
        r = audit.run(ctx, today(today_opt))
    if as_json:
        output.emit_json(r)
    else:
        _table("billdb audit security", r["controls"],
               ("id", "status", "reference", "title", "evidence"))
        output.console().print(f"{r['count']} controls: {_counts(r['summary'])}",
                               highlight=False)
    output.exit_status(r["ok"])


DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Look without recording: the run is not stored, so the next run still "
    "judges the same period.")]


def _checklist(kind: str, as_json: bool, today_opt: str | None,
               disruptive: bool = False, dry_run: bool = False) -> None:
    from billdb.operations import checklist

    r = checklist.run(local_context(), kind, today(today_opt), disruptive,
                      progress=output.note, record=not dry_run)
    if as_json:
        output.emit_json(r)
    else:
        _table(f"billdb checklist {kind}", r["items"], ("id", "status", "since", "evidence"))
        where = f"stored in {r['stored']}" if r["stored"] else "not stored (--dry-run)"
        output.console().print(f"{_counts(r['summary'])}; {where}", highlight=False,
                               soft_wrap=True)
    output.exit_status(r["ok"])


@checklist_app.command("daily")
def daily(as_json: JsonOpt = False, today_opt: TodayOpt = None,
          dry_run: DryRunOpt = False) -> None:
    """Availability, resources, backups, slow statements, errors, connections."""
    _checklist("daily", as_json, today_opt, dry_run=dry_run)


@checklist_app.command("weekly")
def weekly(as_json: JsonOpt = False, today_opt: TodayOpt = None,
           disruptive: Annotated[bool, typer.Option(
               "--disruptive", help="Also run the kill drill (drill failover).")] = False
           ) -> None:
    """Switchover there and back, restore drill, statement statistics, patches, capacity."""
    _checklist("weekly", as_json, today_opt, disruptive)


@checklist_app.command("monthly")
def monthly(as_json: JsonOpt = False, today_opt: TodayOpt = None,
            dry_run: DryRunOpt = False) -> None:
    """Trends, cost review, DR figures and their age, the security audit."""
    _checklist("monthly", as_json, today_opt, dry_run=dry_run)


@checklist_app.command("history")
def history(as_json: JsonOpt = False) -> None:
    """Past checklist runs stored in the state directory."""
    from billdb.operations import checklist

    r = checklist.history(local_context())
    if as_json:
        output.emit_json(r)
        return
    _table("checklist runs", r["runs"], ("kind", "started", "finished", "summary", "ok"))


def test_plan(
    as_json: JsonOpt = False,
    full: Annotated[bool, typer.Option(
        "--full", help="pgbench for the plan's tests.pgbench.duration_s (300 s), not 30 s.")
    ] = False,
    duration: Annotated[int | None, typer.Option("--duration", min=1, help="pgbench seconds "
                                                  "(overrides 30 s / --full).")] = None,
) -> None:
    """The plan's §13 tests as one run: functional, pgbench, switchover, PITR; exit 1 on a
    miss."""
    from billdb.operations import testplan

    r = testplan.run(local_context(), full, duration, progress=output.note,
                     long_step=output.heartbeat)
    if as_json:
        output.emit_json(r)
    else:
        for res in r["results"]:
            output.report(res, False)
        output.console().print("all tests met" if r["ok"] else "a test missed its target")
    output.exit_status(r["ok"])


def incidents(as_json: JsonOpt = False) -> None:
    """Incidents (§14.2) from the alert log: severity, opened, escalated, resolved, duration,
    target met; for an open sev1, whether failover happened and the write route answers."""
    from billdb.operations import alertlog
    from billdb.operations import incidents as inc

    ctx = local_context()
    log = alertlog.path_for(ctx.layout.state_dir)
    r = inc.report(ctx.plan, alertlog.read_alerts(log), confirm=lambda: inc.confirm(ctx),
                   confirmed=alertlog.read_confirmations(alertlog.confirmations_path(log)))
    if as_json:
        output.emit_json(r)
    else:
        _incidents_text(r)
    output.exit_status(r["ok"])


def _incidents_text(r: dict[str, Any]) -> None:
    if not r["incidents"]:
        output.console().print("no incidents")
        return
    rows = [i | {"at_open": i.get("confirmation")} for i in r["incidents"]]
    _table("incidents", rows, ("severity", "alert", "opened", "escalated", "resolved",
                               "duration_min", "target_met", "at_open"))
    now = r.get("now")
    if now:
        output.console().print(
            f"now ({output.when(now['checked_at'])}): leader {now.get('leader')}, timeline "
            f"{now.get('timeline') or '-'}, write route {now.get('write_route')} (the "
            "at_open column is what was true when each sev1 opened)", highlight=False,
            soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(checklist_app, name="checklist")
    app.command("test-plan")(test_plan)
    app.command("incidents")(incidents)
