"""A failure as one line for people and one JSON document for machines, with its exit code.

The exit code stays the contract's (1: something failed, 2: bad plan or argument, 130:
interrupted); --json only changes what stdout carries: `{"ok": false, "error": {"kind",
"message", and "file"/"line"/"field" when the plan is at fault}}`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from billdb.errors import ArgumentError, BilldbError, PlanError


@dataclass(frozen=True)
class Failure:
    kind: str  # plan, argument, usage, failed, database, client, interrupted, internal
    message: str
    exit_code: int
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def document(self) -> dict:
        error = {k: v for k, v in asdict(self).items() if k != "exit_code" and v is not None}
        return {"ok": False, "error": error}


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _database(exc: BaseException) -> Failure | None:
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return None
    if not isinstance(exc, psycopg.Error):
        return None
    diag = getattr(exc, "diag", None)
    where = f" ({diag.sqlstate})" if diag is not None and diag.sqlstate else ""
    return Failure("database", f"PostgreSQL: {_first_line(str(exc))}{where}", 1)


def _client(exc: BaseException) -> Failure | None:
    try:
        from billdb_client.errors import ClientError
    except ImportError:  # the client is its own distribution
        return None
    if not isinstance(exc, ClientError):
        return None
    return Failure("client", f"billdb-client: {_first_line(str(exc))}", 1)


def classify(exc: BaseException) -> Failure | None:
    """The failure an exception stands for; None for a bug (the caller shows it as one)."""
    if isinstance(exc, PlanError):
        return Failure("plan", str(exc), exc.exit_code, exc.file, exc.line, exc.field)
    if isinstance(exc, ArgumentError):
        return Failure("argument", str(exc), exc.exit_code)
    if isinstance(exc, BilldbError):
        return Failure("failed", str(exc), exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", "interrupted", 130)
    return _database(exc) or _client(exc)


def usage(message: str, exit_code: int) -> Failure:
    """A command line click refused (unknown option, missing argument): exit 2."""
    return Failure("usage", _first_line(message), exit_code)


def internal(exc: BaseException) -> Failure:
    return Failure("internal", f"{type(exc).__name__}: {_first_line(str(exc))} "
                   "(a billdb bug: the traceback is on stderr)", 1)
