"""Split a SQL block into statements with their document lines, the way psql reads it.

Quotes, dollar quotes, identifiers and comments are honoured so a ';' inside them does not
end a statement. psql meta-commands (\\c db) come out as their own items. A comment line
that holds a whole statement ("-- CREATE EXTENSION x;", the document's "run when
needed" form) comes out too, marked as commented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_COMMENTED_SQL = re.compile(
    r"^\s*--\s*((?:CREATE|ALTER|GRANT|REVOKE|DROP|SELECT|INSERT|UPDATE|DELETE|SET)\b.*;)\s*$",
    re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # document line where the statement starts
    meta: bool = False  # a psql backslash command
    commented: bool = False


def _block_comment_end(text: str, i: int) -> int:
    """The index after the (nested) block comment opening at `i`."""
    depth, j, n = 1, i + 2, len(text)
    while j < n and depth:
        if text.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif text.startswith("*/", j):
            depth, j = depth - 1, j + 2
        else:
            j += 1
    return j


def _quoted(text: str, i: int) -> str:
    """The quoted literal or identifier opening at `i` (a doubled quote stays inside)."""
    quote, j, n = text[i], i + 1, len(text)
    while j < n:
        if text[j] == quote and text.startswith(quote * 2, j):
            j += 2
            continue
        if text[j] == quote:
            break
        j += 1
    return text[i:j + 1]


def _dollar_quoted(text: str, i: int, tag: str) -> str:
    end = text.find(tag, i + len(tag))
    return text[i:len(text) if end < 0 else end + len(tag)]


def _line_end(text: str, i: int) -> int:
    eol = text.find("\n", i)
    return len(text) if eol < 0 else eol


class _Splitter:
    """One pass over the text; `buf` holds the statement being read, from line `start`."""

    def __init__(self, text: str, first_line: int) -> None:
        self.text, self.line, self.i = text, first_line, 0
        self.out: list[Statement] = []
        self.buf: list[str] = []
        self.start: int | None = None

    def flush(self) -> None:
        stmt = "".join(self.buf).strip()
        if stmt and self.start is not None:
            self.out.append(Statement(stmt, self.start))
        self.buf, self.start = [], None

    def line_start(self) -> bool:
        """At the start of a line outside a statement: a meta-command is taken whole (True);
        a commented statement is noted, and reading goes on."""
        eol = _line_end(self.text, self.i)
        raw = self.text[self.i:eol]
        if raw.lstrip().startswith("\\"):
            self.out.append(Statement(raw.strip(), self.line, meta=True))
            self.i = eol
            return True
        if m := _COMMENTED_SQL.match(raw):
            self.out.append(Statement(m.group(1).strip(), self.line, commented=True))
        return False

    def skip(self, ch: str) -> bool:
        """Newlines, comments and white space: consumed without starting a statement."""
        text, i = self.text, self.i
        if ch == "\n":
            self.line += 1
            self.buf.append(ch)
            self.i += 1
        elif text.startswith("--", i):
            self.i = _line_end(text, i)
        elif text.startswith("/*", i):
            j = _block_comment_end(text, i)
            self.line += text.count("\n", i, j)
            self.buf.append(" ")
            self.i = j
        elif ch.isspace():
            self.buf.append(ch)
            self.i += 1
        else:
            return False
        return True

    def token(self, ch: str) -> None:
        """Part of a statement: a quoted piece whole, or one character; ';' ends it."""
        if self.start is None:
            self.start = self.line
        if ch == ";":
            self.buf.append(ch)
            self.i += 1
            self.flush()
            return
        if ch in ("'", '"'):
            chunk = _quoted(self.text, self.i)
        elif ch == "$" and (m := _DOLLAR.match(self.text, self.i)):
            chunk = _dollar_quoted(self.text, self.i, m.group(0))
        else:
            chunk = ch
        self.buf.append(chunk)
        self.line += chunk.count("\n")
        self.i += len(chunk)


def split(text: str, first_line: int) -> list[Statement]:
    sp = _Splitter(text, first_line)
    at_line_start = True
    while sp.i < len(text):
        if at_line_start and sp.start is None and sp.line_start():
            continue
        ch = text[sp.i]
        at_line_start = ch == "\n"
        if not sp.skip(ch):
            sp.token(ch)
    sp.flush()
    return sp.out
