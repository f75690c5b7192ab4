"""The one table style of billdb's text output (rich)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from billdb.cli.cells import cell, label
from billdb.cli.common import zone

ATOM = 32
PIPE_WIDTH = 160
PROSE = 10


def table(title: str | None, columns: Sequence[str], rows: Iterable[dict[str, Any]],
          headers: Sequence[str] | None = None, width: int | None = None,
          tz: str | None = None) -> Table:
    """The one table style: a header row, every column folds (never cuts a value), cells
    rendered for people (times in the plan's zone, sizes, durations, nested lines). A column
    of atoms (times, sizes, roles, numbers: no spaces) keeps its width, so prose columns
    wrap first and an atom stays whole on its line."""
    tz = tz or zone()
    cells = [[_text(row.get(col), tz, col) for col in columns] for row in rows]
    names = [headers[i] if headers else label(col) for i, col in enumerate(columns)]
    fixed = _fit([_atom_width([r[i] for r in cells], names[i]) for i in range(len(columns))],
                 width or terminal_width())
    t = Table(title=title, show_lines=False)
    for i, name in enumerate(names):
        t.add_column(name, overflow="fold", width=fixed[i])
    for r in cells:
        t.add_row(*r)
    return t


def _atom_width(column: list[Text], header: str) -> int | None:
    """The width of a column whose every line is an atom (no spaces, at most 32 wide): its
    widest atom or its header; None for a prose column."""
    lines = [line for c in column for line in c.plain.splitlines()]
    if not lines or any(" " in line or len(line) > ATOM for line in lines):
        return None
    return max(max(len(line) for line in lines), len(header))


def terminal_width() -> int:
    """The width stdout's console will use: the terminal's, $COLUMNS, else 160 for a pipe."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console().width
    return PIPE_WIDTH


def _fit(mins: list[int | None], width: int) -> list[int | None]:
    """Atom columns at their width while the table fits, the widest given up first; each
    prose column needs PROSE (borders: 3 per column and 1)."""
    out = list(mins)

    def need() -> int:
        return sum(m or PROSE for m in out) + 3 * len(out) + 1

    for i in sorted(range(len(out)), key=lambda i: -(out[i] or 0)):
        if need() <= width or out[i] is None:
            break
        out[i] = None
    return out


def _text(value: Any, tz: str, key: str) -> Text:
    """Plain text (a value's brackets are not rich markup); a Text given stays styled."""
    return value if isinstance(value, Text) else Text(cell(value, tz, key))
