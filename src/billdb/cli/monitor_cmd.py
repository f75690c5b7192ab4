"""`billdb alerts`, `billdb report ...` and the stack's own programs (`billdb monitor
exporter|receiver`, run by supervisord). Options come from cli.common, never cli.main."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from billdb import times
from billdb.cli import output
from billdb.cli.common import ArgumentError, JsonOpt, TimeHelp, local_context
from billdb.fsutil import write_atomic

monitor_app = typer.Typer(help="The monitoring stack's programs (run by supervisord).",
                          no_args_is_help=True)
report_app = typer.Typer(help="Database reports (§8.2, §11.2) from the live primary.",
                         no_args_is_help=True)


def _since(value: str | None, zone: str) -> datetime | None:
    """--since: a time (the plan's zone when no offset) or a duration back from now."""
    return times.parse(value, zone, "--since", durations=True) if value else None


@monitor_app.command("exporter")
def exporter() -> None:
    """Serve billdb's metrics (log counter, probe, pgbouncer, backups, archiver, cert)."""
    from billdb import logsetup
    from billdb.monitoring import exporter as exp

    logsetup.configure()
    exp.run(local_context())


@monitor_app.command("receiver")
def receiver() -> None:
    """Receive Alertmanager's webhooks and append them to the alert log; a sev1 that starts
    firing is confirmed at once (leader, timeline, write route) for `billdb incidents`."""
    from billdb import logsetup
    from billdb.monitoring import receiver as rcv
    from billdb.monitoring import stack
    from billdb.operations import alertlog
    from billdb.operations import incidents as inc

    logsetup.configure()
    ctx = local_context()
    assert ctx.local.monitoring is not None
    log = stack.alert_log(ctx)
    rcv.serve(ctx.local.monitoring.receiver_port, log, alertlog.confirmations_path(log),
              lambda: inc.confirm(ctx, patience_s=30))


@monitor_app.command("grafana")
def grafana(out: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Write the dashboard JSON here (default: stdout).")] = None,
) -> None:
    """The HTML report's panels as a Grafana dashboard JSON, from the plan (not rendered here)."""
    from billdb.cli.common import context
    from billdb.monitoring import grafana as grafana_model

    text = json.dumps(grafana_model.dashboard(context().plan), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(out, text, 0o644)
        typer.echo(str(out))


def alerts(
    as_json: JsonOpt = False,
    since: Annotated[str | None, typer.Option(
        "--since", help=f"Only alerts active after T: {TimeHelp}; or a duration back from "
        "now (30m, 2h, 1d).")] = None,
) -> None:
    """What is firing and what fired (from the alert log the receiver keeps)."""
    from billdb.monitoring import receiver as rcv
    from billdb.monitoring import stack

    ctx = local_context()
    after = _since(since, ctx.plan.database.timezone)
    got = rcv.summarize(rcv.read(stack.alert_log(ctx)), after)
    if as_json:
        output.emit_json({"log": str(stack.alert_log(ctx)), "since": after, "alerts": got})
        return
    if not got:
        output.console().print("no alerts" + (f" since {output.when(after)}" if after else ""))
        return
    rows = [a | {"state": "firing" if a["firing"] else "resolved",
                 "member": a["labels"].get("member") or a["labels"].get("instance_name")}
            for a in got]
    output.print_table("alerts", ("severity", "alertname", "member", "state", "since",
                                  "resolved", "value", "section"), rows,
                       ("sev", "alert", "member", "state", "since", "resolved", "value",
                        "section"))


def _report(name: str, as_json: bool, **options: object) -> None:
    from billdb.monitoring import reports

    rows = reports.run(local_context(), name, **options)  # type: ignore[arg-type]
    if as_json:
        output.emit_json({"report": name, "rows": rows})
        return
    if not rows:
        output.console().print("no rows")
        return
    output.print_table(f"report {name}", list(rows[0]), rows)


def _make(name: str, doc: str):
    def cmd(as_json: JsonOpt = False) -> None:
        _report(name, as_json)

    cmd.__doc__ = doc
    return cmd


@report_app.command("slow-queries")
def slow_queries(
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000,
                                       help="Statements shown.")] = 20,
    order: Annotated[Literal["total", "mean"], typer.Option(
        "--order", help="total or mean execution time.")] = "total",
    include_billdb: Annotated[bool, typer.Option(
        "--include-billdb", help="Also billdb's own statements (its administrator and the "
        "exporters), labelled billdb_own.")] = False,
) -> None:
    """Top statements by total or mean execution time (pg_stat_statements), without billdb's
    own monitoring statements unless asked."""
    from billdb.monitoring import reports

    if order not in reports.ORDERS:
        raise ArgumentError(f"--order must be total or mean, not {order!r}")
    _report("slow-queries", as_json, limit=limit, order=order, include_own=include_billdb)


REPORTS = {
    "database": "Cache hit ratio, commits, rollbacks, deadlocks, temp files.",
    "tables": "Table sizes (total, table, indexes), with quoted names.",
    "unused-indexes": "Indexes never scanned (not unique, not primary keys).",
    "connections": "Backends by state, role and client.",
}
for _name, _doc in REPORTS.items():
    report_app.command(_name)(_make(_name, _doc))


@report_app.command("html")
def html(
    hours: Annotated[float, typer.Option("--hours", help="How far back to chart.")] = 1.0,
    out: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] =
        Path("billdb-report.html"),
) -> None:
    """One offline HTML page of charts from Prometheus (plotly inlined)."""
    from billdb.monitoring import html as html_report

    if hours <= 0:
        raise ArgumentError(f"--hours must be > 0, not {hours}")
    path = html_report.write(local_context(), hours, out)
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("alerts")(alerts)
    app.add_typer(report_app, name="report")
    app.add_typer(monitor_app, name="monitor")
