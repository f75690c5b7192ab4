"""Rendering for the CLI: rich progress and tables on stderr/stdout, or plain JSON."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from billdb import times
from billdb.cli.cells import cell, for_machines, label
from billdb.cli.common import zone
from billdb.cli.tables import PIPE_WIDTH, table
from billdb.ops.steps import StepResult, Steps


def _width(stream: Any) -> int | None:
    """The terminal's width, or $COLUMNS; 160 for a pipe that says nothing."""
    return None if stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH


def console() -> Console:
    """stdout, made when printing (no console object lives in the module)."""
    return Console(width=_width(sys.stdout), emoji=False)


def err_console() -> Console:
    return Console(stderr=True, width=_width(sys.stderr), emoji=False)


def when(t: Any) -> str:
    """A time for people: ISO 8601 in the plan's zone, to the second."""
    return cell(t, zone())


def note_plan(text: str) -> None:
    """Which plan file a command uses (stderr; stdout stays the command's)."""
    err_console().print(f"[dim]billdb: {text}[/]", highlight=False, soft_wrap=True)


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[dict[str, Any]],
                headers: Sequence[str] | None = None) -> None:
    console().print(table(title, columns, list(rows), headers))


def error(message: str) -> None:
    err_console().print(f"[bold red]billdb:[/] {escape(message)}", highlight=False,
                        soft_wrap=True)


def emit_json(doc: Any) -> None:
    """One JSON document on stdout: UTC times, durations in seconds."""
    sys.stdout.write(json.dumps(for_machines(doc), indent=2, default=str) + "\n")


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
    rows = [c | {"mark": Text("✓", "green") if c["ok"] else Text("✗", "red")}
            for c in report["checks"]]
    print_table("billdb verify", ("mark", "id", "section", "expected", "actual"), rows,
                ("", "check", "section", "expected", "actual"))
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
    from billdb.cli import status_text

    status_text.render(report, console(), zone())


@contextmanager
def heartbeat(what: str, every_s: float = 5.0) -> Iterator[None]:
    """A line on stderr every `every_s` while a long step runs (anything over 2 s shows
    progress), and how long it took."""
    stop = threading.Event()
    t0 = time.monotonic()

    def beat() -> None:
        while not stop.wait(every_s):
            note(f"{what}: {times.duration(time.monotonic() - t0)} …")

    note(f"{what} …")
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        note(f"{what}: done in {times.duration(time.monotonic() - t0)}")


def note(message: str) -> None:
    """A progress line on stderr (stdout stays clean for --json)."""
    err_console().print(f"  {escape(message)}", highlight=False)


def report(doc: dict[str, Any], as_json: bool) -> None:
    """A drill's or operation's result: JSON, or a key/value table."""
    if as_json:
        emit_json(doc)
        return
    t = Table(show_header=True)
    t.add_column("item", style="bold", overflow="fold")
    t.add_column("value", overflow="fold")
    tz = zone()
    for key, value in doc.items():
        t.add_row(Text(label(str(key))), Text(cell(value, tz, str(key))))
    console().print(t)


def exit_status(ok: bool) -> NoReturn:
    """Exit 0 when the check or operation succeeded, 1 when it failed."""
    raise typer.Exit(0 if ok else 1)


def conclude(doc: dict[str, Any], as_json: bool) -> NoReturn:
    """Print a report with an `ok` field, then exit on it."""
    report(doc, as_json)
    exit_status(doc["ok"])
