"""Rendering for the CLI: rich progress and tables on stderr/stdout, or plain JSON."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from billdb.ops.steps import StepResult, Steps


def console() -> Console:
    """stdout, made when printing (no console object lives in the module)."""
    return Console(width=None if sys.stdout.isatty() else 160)


def err_console() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def error(message: str) -> None:
    err_console().print(f"[bold red]billdb:[/] {message}", highlight=False, soft_wrap=True)


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def progress_steps() -> Steps:
    """Steps that show a spinner while running and one line per finished step (stderr)."""
    status = {"live": None}

    def start(name: str) -> None:
        status["live"] = err_console().status(f"{name} …")
        status["live"].start()

    def end() -> None:
        if status["live"]:
            status["live"].stop()
            status["live"] = None

    def done(result: StepResult) -> None:
        mark = "[yellow]changed[/]" if result.changed else "[green]ok[/]     "
        err_console().print(f"  {mark} {result.name:<22} {result.detail}", highlight=False)

    return Steps(on_start=start, on_done=done, on_end=end)


def summary(steps: Steps, what: str) -> None:
    changed = [r.name for r in steps.results if r.changed]
    if changed:
        err_console().print(f"[yellow]{what} changed:[/] {', '.join(changed)}")
    else:
        err_console().print(f"[green]no changes:[/] the {what} already matches the plan")


def checks(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    table = Table(title="billdb verify", show_lines=False)
    for col in ("", "check", "section", "expected", "actual"):
        table.add_column(col, overflow="fold")
    for c in report["checks"]:
        mark = "[green]✓[/]" if c["ok"] else "[red]✗[/]"
        table.add_row(mark, c["id"], c["section"], str(c["expected"]), str(c["actual"]))
    console().print(table)
    failed = [c["id"] for c in report["checks"] if not c["ok"]]
    n = len(report["checks"])
    if failed:
        console().print(f"[red]{len(failed)} of {n} checks failed:[/] {', '.join(failed)}")
    else:
        console().print(f"[green]all {n} checks passed[/]")


def status(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    console().print(f"state_dir: {report['state_dir']}")
    table = Table(title="members")
    cols = ("name", "role", "site", "state", "lag_bytes", "timeline", "port", "pid",
            "patroni_pid")
    for col in cols:
        table.add_column(col)
    for m in report["members"]:
        table.add_row(*(str(m.get(c, "")) for c in cols))
    console().print(table)
    for svc in report.get("services", []):
        console().print(f"{svc['name']}: {svc['state']} (pid {svc.get('pid')})")
    backup = report.get("backup") or {}
    for repo, last in (backup.get("last_backups") or {}).items():
        if isinstance(last, dict):
            console().print(f"backup {repo}: {last['label']} ({last['type']}, {last['stop']})")
    mon = report.get("monitoring") or {}
    if mon:
        console().print(f"monitoring: {mon['prometheus_url']} (alerts {mon['alerts_url']}), "
                        f"firing: {', '.join(mon['firing']) or 'none'} (billdb alerts)")
    if isinstance(backup.get("archiver"), dict):
        arch = backup["archiver"]
        console().print(f"archiving: last {arch['last_archived_wal']} at "
                      f"{arch['last_archived_time']}, healthy {arch['healthy']}")


def note(message: str) -> None:
    """A progress line on stderr (stdout stays clean for --json)."""
    err_console().print(f"  {message}", highlight=False)


def report(doc: dict[str, Any], as_json: bool) -> None:
    """A drill's or operation's result: JSON, or a key/value table."""
    if as_json:
        emit_json(doc)
        return
    table = Table(show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in doc.items():
        table.add_row(key, json.dumps(value, default=str) if isinstance(value, dict | list)
                      else str(value))
    console().print(table)


def exit_status(ok: bool) -> NoReturn:
    """Exit 0 when the check or operation succeeded, 1 when it failed."""
    raise typer.Exit(0 if ok else 1)


def conclude(doc: dict[str, Any], as_json: bool) -> NoReturn:
    """Print a report with an `ok` field, then exit on it."""
    report(doc, as_json)
    exit_status(doc["ok"])
