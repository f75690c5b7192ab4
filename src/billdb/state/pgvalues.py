"""Compare a plan value ('256MB', '10s', 'on') with what pg_settings reports.

The units and the comparison are Patroni's own (patroni.utils: parse_int, parse_real,
compare_values, maybe_convert_from_base_unit), the same rules Patroni applies to the
parameters it manages, so billdb and Patroni never read one value two ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patroni.utils import compare_values, maybe_convert_from_base_unit, parse_int
from psycopg.rows import class_row

from billdb import sql as sqlfiles
from billdb.render.parameters import PgValue

_LIST_PARAMS = {"shared_preload_libraries", "pgaudit.log"}


@dataclass(frozen=True)
class SettingRow:
    """One pg_settings row, read by name (sql/verify/parameters.sql)."""

    name: str
    setting: str
    unit: str | None = None
    vartype: str = "string"
    context: str = "user"
    pending_restart: bool = False

    @property
    def needs_restart(self) -> bool:
        """The server's own catalogue says a change takes effect only at a restart."""
        return self.context == "postmaster"

    @property
    def value(self) -> PgValue:
        return typed(self.setting, self.unit, self.vartype)


def read_settings(conn: Any, names: list[str]) -> dict[str, SettingRow]:
    """The pg_settings rows of `names` on the server `conn` reaches."""
    with conn.cursor(row_factory=class_row(SettingRow)) as cur:
        rows = cur.execute(sqlfiles.load("verify/parameters"), {"names": names}).fetchall()
    return {r.name: r for r in rows}


def _items(value: str) -> list[str]:
    return [p.strip().lower() for p in value.split(",") if p.strip()]


def matches(name: str, expected: str, setting: str, unit: str | None, vartype: str) -> bool:
    """True when `setting` (pg_settings.setting, counted in `unit`) equals the plan's value;
    a bare number in the plan counts in the setting's unit, as in postgresql.conf."""
    if name in _LIST_PARAMS:
        return _items(expected) == _items(setting)
    if vartype in ("bool", "integer", "real", "enum"):
        return compare_values(vartype, unit or None, setting, expected)
    return setting.strip().lower() == expected.strip().lower()


def typed(setting: str, unit: str | None, vartype: str) -> PgValue:
    """pg_settings value as the plan types it: a bool, a number without a unit, or text
    (with its unit for a quantity, '32768' '8kB' -> '256MB')."""
    if vartype == "bool":
        return setting == "on"
    if not unit and vartype in ("integer", "real"):
        try:
            return int(setting) if vartype == "integer" else float(setting)
        except ValueError:
            return setting
    return display(setting, unit)


def display(setting: str, unit: str | None) -> str:
    """pg_settings value for humans ('32768' '8kB' -> '256MB')."""
    if not unit:
        return setting
    vartype = "integer" if parse_int(setting) is not None and "." not in setting else "real"
    try:
        return maybe_convert_from_base_unit(setting, vartype, unit)
    except (TypeError, ValueError):
        return setting + unit
