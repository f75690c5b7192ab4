"""Compare a plan value ('256MB', '10s', 'on') with what pg_settings reports.

The units and the comparison are Patroni's own (patroni.utils: parse_int, parse_real,
compare_values, maybe_convert_from_base_unit), the same rules Patroni applies to the
parameters it manages, so billdb and Patroni never read one value two ways.
"""

from __future__ import annotations

from patroni.utils import compare_values, maybe_convert_from_base_unit, parse_int

_LIST_PARAMS = {"shared_preload_libraries", "pgaudit.log"}


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


def display(setting: str, unit: str | None) -> str:
    """pg_settings value for humans ('32768' '8kB' -> '256MB')."""
    if not unit:
        return setting
    vartype = "integer" if parse_int(setting) is not None and "." not in setting else "real"
    try:
        return maybe_convert_from_base_unit(setting, vartype, unit)
    except (TypeError, ValueError):
        return setting + unit
