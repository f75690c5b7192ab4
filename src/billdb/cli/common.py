"""What every command shares: the option types and the plan/environment the root command
chose. The choice lives on the click context object (set by main's callback), not in module
state, and the command modules import this module, never `billdb.cli.main` (no circle)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer

try:  # typer 0.2x carries its own click; older ones use click itself
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover
    from click import get_current_context

from billdb import times
from billdb.context import Context, load_context
from billdb.errors import ArgumentError, BilldbError, PlanError
from billdb.plan import locate

PlanOpt = Annotated[Path | None, typer.Option(
    "--plan", help="Plan file. Without it: $BILLDB_PLAN, else plans/bill-inquiry.yaml in the "
    "current directory, else the copy `billdb up` keeps in the state directory "
    "($BILLDB_STATE_DIR, default /var/lib/billdb/local); stderr says which.",
    show_default=False)]
EnvOpt = Annotated[Literal["local", "prod"], typer.Option(
    "--env", help="Environment of the plan: local or prod.")]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print one JSON document on stdout (times in UTC), also on failure: "
    '{"ok": false, "error": {...}}.')]
TimeHelp = times.HELP
TODAY_ENV = "BILLDB_TODAY"


@dataclass
class Selection:
    """The root command's --plan (as located) and --env; `zone` is the loaded plan's time
    zone, for rendering times (UTC until a command loads the plan)."""

    plan: Path | None = None
    env: str = "local"
    zone: str = "UTC"


def selection() -> Selection:
    """The root command's choice; outside a command run this is an error, never a silent
    fall-back to the default plan (which is the `make up` environment)."""
    ctx = get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx else None
    if not isinstance(obj, Selection):
        raise BilldbError("no command line context: --plan/--env were not parsed")
    return obj


def plan_path() -> Path:
    """The located plan file, or the one-line message saying where billdb looked."""
    s = selection()
    if s.plan is None:
        raise PlanError(locate.missing_message())
    return s.plan


def _load(s: Selection, env: str) -> Context:
    ctx = load_context(plan_path(), env)
    s.zone = ctx.plan.database.timezone
    return ctx


def context() -> Context:
    s = selection()
    return _load(s, s.env)


def local_context() -> Context:
    s = selection()
    if s.env != "local":
        raise BilldbError("this command runs the local environment; use `--env local`")
    return _load(s, s.env)


def zone() -> str:
    """The plan's time zone once a command loaded it (UTC outside a command)."""
    ctx = get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx else None
    return obj.zone if isinstance(obj, Selection) else "UTC"


def today(option: str | None) -> date:
    """--today, else $BILLDB_TODAY, else the calendar's date (end-of-life checks)."""
    value, source = (option, "--today") if option else (os.environ.get(TODAY_ENV), TODAY_ENV)
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ArgumentError(f"{source} must be a date YYYY-MM-DD, not {value!r}") from None
