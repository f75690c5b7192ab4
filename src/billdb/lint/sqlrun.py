"""Replay a document's SQL, in document order, on the scratch server, and roll it back.

Each database the document connects to (`\\c`) gets one connection holding one
transaction; every statement runs inside a savepoint, so a failing statement is reported
with the server's own error and the next one still runs. At the end everything is rolled
back. Statements PostgreSQL refuses inside a transaction (CREATE DATABASE, ALTER SYSTEM)
run on their own on the throwaway server instead.

Before the document runs, the objects the plan expects but the document does not create
are made: the plan's database, roles and extensions. The schema (billdb's migrations stand
in for the document's schema file) is applied where the document applies it, as the role
it names, or before the first statement when the document never does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.lint import statements as st
from billdb.lint.sqlsplit import Statement
from billdb.retry import PollTimeout, poll
from billdb.state.scratch import Scratch

_RELKINDS = {"tables": ["r", "p", "v", "m", "f"], "sequences": ["S"]}


@dataclass
class Outcome:
    line: int
    section: str
    text: str
    error: str | None = None
    sqlstate: str | None = None
    hint: str | None = None
    error_line: int | None = None
    note: str | None = None  # something the server showed although the statement succeeded
    pending_restart: list[str] = field(default_factory=list)
    commented: bool = False


@dataclass
class Expected:
    """What the plan expects to exist, minus what the document creates itself."""

    database: str
    roles: list[str]
    extensions: list[str]
    schema_step: bool  # the document applies a schema file itself
    database_by_document: bool  # the document runs CREATE DATABASE for it


def _error(exc: psycopg.Error, stmt_line: int, text: str) -> tuple[str, str | None,
                                                                     str | None, int]:
    diag = exc.diag
    message = (diag.message_primary or str(exc)).strip()
    if diag.message_detail:
        message += f" ({diag.message_detail.strip()})"
    line = stmt_line
    pos = diag.statement_position
    if pos and pos.isdigit():
        line += text[:int(pos) - 1].count("\n")
    return message, diag.sqlstate, diag.message_hint, line


class Runner:
    def __init__(self, scratch: Scratch, expected: Expected) -> None:
        self.scratch = scratch
        self.expected = expected
        self.tx: dict[str, psycopg.Connection] = {}
        self.auto: dict[str, psycopg.Connection] = {}
        self.altered: list[str] = []  # parameters set with ALTER SYSTEM so far
        self.current = "postgres"
        self.created: list[str] = []  # databases made outside the transaction, dropped at close

    # --- connections -------------------------------------------------------------------
    def _auto(self, db: str) -> psycopg.Connection:
        if db not in self.auto:
            self.auto[db] = self.scratch.connect(db, autocommit=True)
        return self.auto[db]

    def _tx(self, db: str) -> psycopg.Connection:
        if db not in self.tx:
            conn = self.scratch.connect(db, autocommit=False)
            conn.execute("SET statement_timeout = '10s'")
            conn.execute("SET lock_timeout = '2s'")
            self.tx[db] = conn
            if db == self.expected.database:
                self._prepare(conn)
        return self.tx[db]

    def _db_exists(self, db: str) -> bool:
        return self._auto("postgres").execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone() is not None

    def start(self) -> None:
        if self.expected.database_by_document or self._db_exists(self.expected.database):
            return
        self._auto("postgres").execute(sql.SQL(
            "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(self.expected.database)))
        self.created.append(self.expected.database)
        self.current = self.expected.database

    def _prepare(self, conn: psycopg.Connection) -> None:
        """The plan's roles and extensions the document does not create itself."""
        for role in self.expected.roles:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        for ext in self.expected.extensions:
            with contextlib.suppress(psycopg.Error), conn.transaction():
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                    sql.Identifier(ext)))
        if not self.expected.schema_step:
            self._schema(conn, None)

    def _schema(self, conn: psycopg.Connection, role: str | None) -> None:
        with conn.transaction():
            conn.execute("SET LOCAL search_path = public")
            if role:
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            for _, _, text in sqlfiles.migrations():
                conn.execute(text)
        conn.execute("RESET ROLE")
        conn.execute("RESET search_path")

    # --- actions -----------------------------------------------------------------------
    def meta(self, stmt: Statement, section: str) -> Outcome | None:
        words = stmt.text.split()
        if words[0] in ("\\c", "\\connect") and len(words) > 1:
            db = words[1].strip("'\"")
            if db != "-" and not self._db_exists(db):
                return Outcome(stmt.line, section, stmt.text,
                               error=f'database "{db}" does not exist', sqlstate="3D000")
            self.current = db if db != "-" else self.current
        return None

    def statement(self, stmt: Statement, section: str) -> Outcome:
        out = Outcome(stmt.line, section, stmt.text, commented=stmt.commented)
        if st.unsafe(stmt.text):
            out.note = "not run: it reaches outside the database (files, programs, sessions)"
            return out
        try:
            if st.non_transactional(stmt.text):
                self._auto(self.current).execute(stmt.text)
                setp = st.alter_system(stmt.text)
                if setp:
                    self.altered.append(setp.name)
                if (db := st.created_database(stmt.text)) is not None:
                    self.created.append(db)
                return out
            conn = self._tx(self.current)
            with conn.transaction():
                conn.execute(stmt.text)
                grant = st.grant_all_in_schema(stmt.text)
                if grant and grant.kind in _RELKINDS:
                    n = conn.execute(sqlfiles.load("lint/relations_in_schema"),
                                     {"schema": grant.schema,
                                      "kinds": _RELKINDS[grant.kind]}).fetchone()[0]
                    if n == 0:
                        out.note = f"granted on 0 {grant.kind}: schema {grant.schema} has none yet"
            if st.reloads_config(stmt.text) and self.altered:
                out.pending_restart = self._pending(self.altered)
        except psycopg.Error as exc:
            out.error, out.sqlstate, out.hint, out.error_line = _error(exc, stmt.line, stmt.text)
        return out

    def apply_schema(self, role: str | None, db: str | None, line: int,
                     section: str) -> Outcome:
        """The document's schema step: billdb's migrations, as the role the document names."""
        db = db or self.current
        out = Outcome(line, section, f"(schema file applied as {role or 'the administrator'})")
        if not self._db_exists(db):
            out.error = f'database "{db}" does not exist'
            return out
        conn = self._tx(db)
        try:
            self._schema(conn, role if role and role != "postgres" else None)
        except psycopg.Error as exc:
            out.error, out.sqlstate, out.hint, _ = _error(exc, line, "")
            try:  # the rest of the document is checked with the schema in place
                self._schema(conn, None)
                out.note = "the schema was then created by the administrator to go on"
            except psycopg.Error:
                out.note = "the schema could not be created at all"
        return out

    def _pending(self, names: list[str]) -> list[str]:
        """Parameters the server still waits to apply after the reload (restart needed)."""
        def pending() -> list[str]:
            return [name for (name,) in self._auto("postgres").execute(
                sqlfiles.load("lint/pending_restart"), {"names": names})]

        try:
            return poll(pending, 3, 0.1)
        except PollTimeout:
            return []

    def close(self) -> None:
        """Roll back, then undo what could not be rolled back (databases, ALTER SYSTEM), so
        the server is as it was: a shared scratch server serves the next document clean."""
        for conn in [*self.tx.values(), *self.auto.values()]:
            with contextlib.suppress(psycopg.Error):
                if not conn.autocommit:
                    conn.rollback()
                conn.close()
        self.tx.clear()
        self.auto.clear()
        with self.scratch.connect() as conn:
            for db in reversed(self.created):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(db)))
            if self.altered:
                conn.execute("ALTER SYSTEM RESET ALL")
                conn.execute("SELECT pg_reload_conf()")
