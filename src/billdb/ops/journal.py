"""A journal for operations that change the cluster's shape (`keys rotate`, `restore promote`,
`switchover`, `drill dr`, `dr rebuild`), so a kill at any point can be finished by a rerun.

In the manner of pglift's tasks: an operation is a list of named steps. Each step is recorded
as `running` in the state directory *before* it runs and as `done` after, in one JSON file per
operation (written atomically: temporary file, fsync, rename, mode 0600). Every step knows
what a rerun may do with it when the journal shows it interrupted (`running` or `failed`):

- resume: the step is idempotent forward (it reads what is there and only does what is
  missing), so the rerun simply runs it again;
- revert: running it again over a half-done state is unsafe, so the rerun first undoes it
  (`revert`), says so in its progress output and in the report's `journal.reverted`, then runs
  it from the start.

Done steps are skipped. A finished operation's journal is archived under `journal/done/`, so
the next run starts fresh. While a journal is open, a run of another operation, or of the same
one with other arguments, is refused with exit 2 instead of mixing two operations; one flock
keeps two billdb processes from running journaled operations at once.

Test hook (test-only, never set it in production): BILLDB_JOURNAL_PAUSE_AT=<step>[,<step>...]
makes the process SIGSTOP itself right after recording <step> as running (before it acts), or,
written `<step>:after`, right after the step acted but before it is marked done; a step may add
points of its own inside it with `checkpoint("<step>:<where>")`. A test then SIGKILLs the
stopped process and reruns the command.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billdb.errors import BilldbError

PAUSE_ENV = "BILLDB_JOURNAL_PAUSE_AT"
KEEP_ARCHIVED = 50
Progress = Callable[[str], None]


class JournalConflict(BilldbError):
    """Another operation (or the same one with other arguments) is half done: exit 2."""

    exit_code = 2


@dataclass
class Step:
    """One named step. `run` returns a short detail; `revert`, when given, makes the step
    revert-on-interrupt (see the module docstring) instead of resume-on-interrupt."""

    name: str
    run: Callable[[Journal], str | None]
    revert: Callable[[Journal], str] | None = None

    @property
    def resumes(self) -> bool:
        return self.revert is None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_private(path: Path, text: str) -> None:
    """Atomic 0600 write: the mode is set before any byte is written, fsync, rename, fsync
    of the directory, so a kill leaves either the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def checkpoint(point: str) -> None:
    """The test hook: stop here when BILLDB_JOURNAL_PAUSE_AT names this point (test-only)."""
    wanted = [p.strip() for p in os.environ.get(PAUSE_ENV, "").split(",") if p.strip()]
    if point in wanted:
        os.kill(os.getpid(), signal.SIGSTOP)


@dataclass
class Journal:
    """The open journal of one operation: its arguments, its steps' states and the data its
    steps share across runs (names and positions only, never a secret)."""

    directory: Path
    op: str
    args: dict[str, Any]
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.directory / (self.op.replace(" ", "-") + ".json")

    @property
    def data(self) -> dict[str, Any]:
        return self.doc["data"]

    def record(self, **values: Any) -> None:
        """Persist shared data now (a later run, or a revert, may need it)."""
        self.data.update(values)
        self.save()

    def save(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.path, json.dumps(self.doc, indent=2, default=str) + "\n")

    def step(self, name: str) -> dict[str, Any]:
        for rec in self.doc["steps"]:
            if rec["name"] == name:
                return rec
        rec = {"name": name, "status": "pending", "attempts": 0}
        self.doc["steps"].append(rec)
        return rec

    def event(self, step: str, kind: str, detail: str) -> None:
        self.doc["events"].append({"at": _now(), "run": self.doc["runs"], "step": step,
                                   "event": kind, "detail": detail})


def open_journals(directory: Path) -> list[dict[str, Any]]:
    """The journals of operations that have not finished."""
    out = []
    for f in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            out.append(json.loads(f.read_text(encoding="utf-8")) | {"file": str(f)})
        except (OSError, ValueError) as exc:
            raise BilldbError(f"{f}: unreadable journal ({exc}); move it away once you have "
                              "checked the environment by hand") from None
    return out


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise JournalConflict(f"another journaled billdb operation is running (pid {other})"
                                  "; wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock, as a kill does


def _begin(directory: Path, op: str, args: dict[str, Any], command: str,
           prepare: Callable[[], dict[str, Any]], progress: Progress) -> Journal:
    """Resume the open journal of this operation, or start a new one; refuse a mix."""
    for doc in open_journals(directory):
        if doc["op"] != op or doc["args"] != args:
            pending = next((s["name"] for s in doc["steps"] if s["status"] != "done"), "?")
            raise JournalConflict(
                f"`{doc['op']}` with {json.dumps(doc['args'])} is half done (started "
                f"{doc['started_at']}, at step '{pending}'): finish it with "
                f"`{doc['command']}` before running `{command}`; journal: {doc['file']}")
    j = Journal(directory, op, args)
    if j.path.exists():
        j.doc = json.loads(j.path.read_text(encoding="utf-8"))
        j.doc["runs"] += 1
        progress(f"resuming `{op}` started {j.doc['started_at']} (journal {j.path})")
    else:
        j.doc = {"op": op, "args": args, "command": command, "state": "open",
                 "id": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}",
                 "started_at": _now(), "runs": 1, "data": {}, "steps": [], "events": []}
        j.doc["data"] = prepare()
    j.doc["pid"] = os.getpid()
    j.save()
    return j


def _run_step(j: Journal, step: Step, outcome: dict[str, Any], progress: Progress) -> None:
    rec = j.step(step.name)
    if rec["status"] == "done":
        outcome["skipped"].append(step.name)
        return
    if rec["status"] in ("running", "failed"):
        if step.resumes:
            j.event(step.name, "resumed", "idempotent step run again")
            outcome["resumed_steps"].append(step.name)
            progress(f"{step.name}: interrupted before; resuming it (safe to run again)")
        else:
            detail = step.revert(j)
            j.event(step.name, "reverted", detail)
            outcome["reverted"].append({"step": step.name, "detail": detail})
            progress(f"{step.name}: interrupted half done, unsafe to resume; reverted: "
                     f"{detail}; running it again from the start")
    rec.update(status="running", started_at=_now(), attempts=rec["attempts"] + 1,
               resumes=step.resumes)
    rec.pop("error", None)
    j.save()
    checkpoint(step.name)
    try:
        detail = step.run(j)
    except Exception as exc:
        rec.update(status="failed", error=str(exc))
        j.event(step.name, "failed", str(exc))
        j.save()
        raise
    checkpoint(f"{step.name}:after")
    rec.update(status="done", done_at=_now(), detail=detail)
    j.save()


def _archive(j: Journal) -> Path:
    j.doc.update(state="done", finished_at=_now())
    done = j.directory / "done"
    done.mkdir(mode=0o700, exist_ok=True)
    target = done / f"{j.doc['id']}-{j.path.name}"
    write_private(target, json.dumps(j.doc, indent=2, default=str) + "\n")
    j.path.unlink()
    for old in sorted(done.glob("*.json"))[:-KEEP_ARCHIVED]:
        old.unlink(missing_ok=True)
    return target


def run(directory: Path, op: str, args: dict[str, Any], steps: list[Step], *,
        command: str, prepare: Callable[[], dict[str, Any]] = dict,
        progress: Progress = lambda _m: None) -> tuple[Journal, dict[str, Any]]:
    """Run (or finish) an operation's steps under its journal. Returns the journal (its
    `data` holds what the steps recorded) and the `journal` section of the report.
    `prepare` runs only when a new journal starts: checks and choices made once. The
    report's `resumed_steps` and `reverted` cover every run of the operation; `skipped` (the
    steps found done) covers this run."""
    with _locked(directory):
        j = _begin(directory, op, args, command, prepare, progress)
        outcome: dict[str, Any] = {"id": j.doc["id"], "runs": j.doc["runs"],
                                   "resumed": j.doc["runs"] > 1, "skipped": [],
                                   "resumed_steps": [], "reverted": []}
        for step in steps:
            _run_step(j, step, outcome, progress)
        events = j.doc["events"]  # over every run of this operation, not only this one
        outcome["resumed_steps"] = [s.name for s in steps if any(
            e["step"] == s.name and e["event"] == "resumed" for e in events)]
        outcome["reverted"] = [{"run": e["run"], "step": e["step"], "detail": e["detail"]}
                               for e in events if e["event"] == "reverted"]
        outcome["file"] = str(_archive(j))
        outcome["steps"] = [{"name": s.name, "on_interrupt": "resume" if s.resumes
                             else "revert"} for s in steps]
        return j, outcome


def directory(state_dir: Path) -> Path:
    """Where an environment keeps its journals (beside its other state)."""
    return state_dir / "journal"
