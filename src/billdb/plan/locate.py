"""Which plan file a command uses, as Patroni and pgBackRest find their configuration:
`--plan`, else $BILLDB_PLAN, else `plans/bill-inquiry.yaml` in the current directory (the
clone), else the copy `billdb up` keeps in the environment's state directory
($BILLDB_STATE_DIR, default /var/lib/billdb/local). No I/O beyond looking at paths."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from billdb.fsutil import write_atomic

PLAN_ENV = "BILLDB_PLAN"
STATE_ENV = "BILLDB_STATE_DIR"
DEFAULT_PLAN = Path("plans/bill-inquiry.yaml")
DEFAULT_STATE_DIR = Path("/var/lib/billdb/local")
COPY_NAME = "plan.yaml"


@dataclass(frozen=True)
class Located:
    path: Path | None  # None: no plan anywhere
    source: str  # --plan, BILLDB_PLAN, the current directory, the environment's copy, none

    def describe(self) -> str:
        return f"plan {self.path} (from {self.source})"


def locate(option: Path | None, environ: Mapping[str, str] = os.environ,
           cwd: Path | None = None) -> Located:
    if option is not None:
        return Located(option, "--plan")
    if environ.get(PLAN_ENV):
        return Located(Path(environ[PLAN_ENV]), PLAN_ENV)
    here = (cwd or Path.cwd()) / DEFAULT_PLAN
    if here.is_file():
        return Located(DEFAULT_PLAN if cwd is None else here, "the current directory")
    copy = state_copy(Path(environ.get(STATE_ENV) or DEFAULT_STATE_DIR))
    if copy.is_file():
        return Located(copy, "the environment's copy")
    return Located(None, "none")


def missing_message() -> str:
    return (f"no plan file: pass --plan FILE, set {PLAN_ENV}, run from the clone "
            f"({DEFAULT_PLAN}), or run `billdb up` once (it keeps a copy in "
            f"{DEFAULT_STATE_DIR}/{COPY_NAME}; ${STATE_ENV} names another state directory)")


def state_copy(state_dir: Path) -> Path:
    return state_dir / COPY_NAME


def keep_copy(plan_path: Path, state_dir: Path) -> Path:
    """`billdb up`: the environment's own copy of the plan it was built from."""
    dest = state_copy(state_dir)
    if plan_path.resolve() != dest.resolve():
        write_atomic(dest, plan_path.read_text(encoding="utf-8"))
    return dest
