"""What the target PostgreSQL itself knows: parameter names and contexts, extensions.

Read from the scratch server's pg_settings and pg_available_extensions rather than from a
hand-written list, so the names are right for that major version.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from billdb import sql as sqlfiles


@dataclass(frozen=True)
class Setting:
    name: str
    context: str
    vartype: str
    unit: str | None
    boot_val: str | None


@dataclass(frozen=True)
class Catalog:
    major: int
    settings: dict[str, Setting]
    extensions: frozenset[str]

    def needs_restart(self, name: str) -> bool:
        s = self.settings.get(name.lower())
        return bool(s and s.context == "postmaster")

    def known_parameter(self, name: str) -> bool:
        return name.lower() in self.settings

    def suggest_parameter(self, name: str) -> str | None:
        return _closest(name.lower(), self.settings)

    def suggest_extension(self, name: str) -> str | None:
        return _closest(name.lower(), self.extensions)


def _closest(name: str, names) -> str | None:
    squashed = {n.replace("_", "").replace("-", ""): n for n in names}
    key = name.replace("_", "").replace("-", "")
    if key in squashed:
        return squashed[key]
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.75)
    return close[0] if close else None


def read(conn: psycopg.Connection, major: int) -> Catalog:
    cur = conn.cursor(row_factory=class_row(Setting))
    settings = {s.name: s for s in cur.execute(sqlfiles.load("lint/settings"))}
    exts = frozenset(name for (name,) in conn.execute(sqlfiles.load("lint/extensions")))
    return Catalog(major, settings, exts)
