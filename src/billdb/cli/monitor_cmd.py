"""`billdb alerts`, `billdb report ...` and the stack's own programs (`billdb monitor
exporter|receiver`, run by supervisord). Options come from cli.common, never cli.main."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from billdb.cli.common import ArgumentError, JsonOpt, local_context

monitor_app = typer.Typer(help="The monitoring stack's programs (run by supervisord).",
                          no_args_is_help=True)
report_app = typer.Typer(help="Database reports (§8.2, §11.2) from the live primary.",
                         no_args_is_help=True)


def _since(value: str | None) -> datetime | None:
    """--since: an ISO time (UTC when no zone) or a duration such as 30m, 2h, 1d."""
    if not value:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * units[value[-1]])
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ArgumentError(f"--since must be an ISO time or a duration like 30m, 2h, 1d, "
                            f"not {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


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
        out.write_text(text, encoding="utf-8")
        typer.echo(str(out))


def alerts(
    as_json: JsonOpt = False,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only alerts active after T (ISO time, or 30m, 2h, 1d).")] = None,
) -> None:
    """What is firing and what fired (from the alert log the receiver keeps)."""
    from billdb.monitoring import receiver as rcv
    from billdb.monitoring import stack

    ctx = local_context()
    got = rcv.summarize(rcv.read(stack.alert_log(ctx)), _since(since))
    if as_json:
        typer.echo(json.dumps({"log": str(stack.alert_log(ctx)), "alerts": got}, indent=2))
        return
    if not got:
        typer.echo("no alerts")
    for a in got:
        state = "FIRING" if a["firing"] else f"resolved {a['resolved']}"
        member = a["labels"].get("member") or a["labels"].get("instance_name") or ""
        typer.echo(f"{a['severity']:5} {a['alertname']:28} {member:10} {state:40} "
                   f"since {a['since']}  value {a['value']}  ({a['section']})")


def _report(name: str, as_json: bool) -> None:
    from billdb.monitoring import reports

    rows = reports.run(local_context(), name)
    if as_json:
        typer.echo(json.dumps({"report": name, "rows": rows}, indent=2, default=str))
        return
    if not rows:
        typer.echo("no rows")
        return
    cols = list(rows[0])
    typer.echo("  ".join(cols))
    for r in rows:
        typer.echo("  ".join(str(r[c]) for c in cols))


def _make(name: str, doc: str):
    def cmd(as_json: JsonOpt = False) -> None:
        _report(name, as_json)

    cmd.__doc__ = doc
    return cmd


REPORTS = {
    "slow-queries": "Top statements by total and mean execution time (pg_stat_statements).",
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
