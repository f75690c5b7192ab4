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


def split(text: str, first_line: int) -> list[Statement]:
    out: list[Statement] = []
    buf: list[str] = []
    start: int | None = None
    line = first_line
    i, n = 0, len(text)
    at_line_start = True

    def flush() -> None:
        nonlocal buf, start
        stmt = "".join(buf).strip()
        if stmt and start is not None:
            out.append(Statement(stmt, start))
        buf, start = [], None

    while i < n:
        ch = text[i]
        if at_line_start and start is None:
            eol = text.find("\n", i)
            eol = n if eol < 0 else eol
            raw = text[i:eol]
            if raw.lstrip().startswith("\\"):
                out.append(Statement(raw.strip(), line, meta=True))
                i = eol
                continue
            m = _COMMENTED_SQL.match(raw)
            if m:
                out.append(Statement(m.group(1).strip(), line, commented=True))
        at_line_start = False
        if ch == "\n":
            line += 1
            at_line_start = True
            buf.append(ch)
            i += 1
            continue
        if ch == "-" and text.startswith("--", i):
            eol = text.find("\n", i)
            i = n if eol < 0 else eol
            continue
        if ch == "/" and text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            line += text.count("\n", i, j)
            buf.append(" ")
            i = j
            continue
        if ch.isspace():
            buf.append(ch)
            i += 1
            continue
        if start is None:
            start = line
        if ch in ("'", '"'):
            j = i + 1
            while j < n:
                if text[j] == ch and text.startswith(ch * 2, j):
                    j += 2
                    continue
                if text[j] == ch:
                    break
                j += 1
            chunk = text[i:j + 1]
        elif ch == "$" and (m := _DOLLAR.match(text, i)):
            tag = m.group(0)
            end = text.find(tag, m.end())
            end = n if end < 0 else end + len(tag)
            chunk = text[i:end]
        elif ch == ";":
            buf.append(ch)
            i += 1
            flush()
            continue
        else:
            chunk = ch
        buf.append(chunk)
        line += chunk.count("\n")
        i += len(chunk)
    flush()
    return out
