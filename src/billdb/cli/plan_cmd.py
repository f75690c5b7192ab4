"""`billdb plan …`: review the plan file, or the Markdown plan document, before running it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from billdb.cli import output
from billdb.cli.common import JsonOpt, selection, today

plan_app = typer.Typer(help="Review the plan itself (no environment needed).",
                       no_args_is_help=True)

_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


@plan_app.command("lint")
def lint(
    plan: Annotated[Path | None, typer.Option(
        "--plan", help="Plan file (default: the global --plan, else plans/bill-inquiry.yaml).",
        show_default=False)] = None,
    document: Annotated[Path | None, typer.Option(
        "--document", help="Lint this Markdown plan document instead of the plan file: its "
        "SQL runs on a scratch PostgreSQL of the plan's major version and is rolled back.",
        exists=True, dir_okay=False, readable=True, show_default=False)] = None,
    today_opt: Annotated[str | None, typer.Option(
        "--today", help="Judge end of life as of this date (YYYY-MM-DD; default: "
        "$BILLDB_TODAY, else today).", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find what in the plan would fail or do harm: end-of-life version, secrets, memory and
    connection budgets, restart-only parameters applied with a reload, names the server or
    Azure does not know, contradicting targets; with --document, every SQL statement
    executed, credentials, grant order, schema owner and `az` commands. Exit 1 on an error.
    """
    from billdb import lint as lint_op

    plan_file = plan or selection().plan
    day = today(today_opt)
    if document:
        report = lint_op.lint_document(document, plan_file, day, progress=output.note)
    else:
        report = lint_op.lint_plan(plan_file, day, progress=output.note)
    if as_json:
        output.emit_json(report)
    else:
        _table(report)
    output.exit_status(report["ok"])


def _table(report: dict[str, Any]) -> None:
    table = Table(title=f"billdb plan lint: {report['target']}", show_lines=True)
    for col, kw in (("severity", {}), ("id", {"no_wrap": True}), ("section", {}),
                    ("line", {}), ("message", {"overflow": "fold", "ratio": 3}),
                    ("fix", {"overflow": "fold", "ratio": 2})):
        table.add_column(col, **kw)
    for f in report["findings"]:
        colour = _COLOURS[f["severity"]]
        table.add_row(f"[{colour}]{f['severity']}[/]", f["id"], f["section"],
                      str(f["line"] or ""), f["message"], f["fix"])
    output.console().print(table)
    c = report["counts"]
    server = report.get("server", {})
    output.console().print(
        f"{c['error']} errors, {c['warning']} warnings, {c['info']} notes "
        f"(checked on PostgreSQL {server.get('postgres_major')} in {server.get('total_s')} s)")
