"""Compare a plan value ('256MB', '10s', 'on') with what pg_settings reports."""

from __future__ import annotations

import re

_MEM = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_LIST_PARAMS = {"shared_preload_libraries", "pgaudit.log"}
_NUM_UNIT = re.compile(r"^\s*(-?[\d.]+)\s*([A-Za-z]*)\s*$")


def _base(amount: float, unit: str) -> float | None:
    """Amount in bytes (memory) or milliseconds (time); None for unknown units."""
    m = re.match(r"^(\d*)(B|kB|MB|GB|TB|us|ms|s|min|h|d)$", unit)
    if not m:
        return None
    factor = int(m.group(1) or 1)
    u = m.group(2)
    return amount * factor * (_MEM.get(u) or _TIME[u])


def normalize(name: str, value: str, unit: str | None, vartype: str) -> str:
    """A canonical text for a value in the setting's own terms (used for both sides)."""
    if vartype == "bool":
        return "on" if value.strip().lower() in ("on", "true", "yes", "1") else "off"
    if vartype in ("integer", "real"):
        m = _NUM_UNIT.match(value)
        if not m:
            return value
        amount, given = float(m.group(1)), m.group(2)
        if unit and given:
            base = _base(amount, given)
            return f"{base:g}" if base is not None else value
        if unit:
            base = _base(amount, unit)
            return f"{base:g}" if base is not None else value
        return f"{amount:g}"
    if name in _LIST_PARAMS:
        return ",".join(p.strip() for p in value.split(",") if p.strip())
    return value.strip()


def matches(name: str, expected: str, setting: str, unit: str | None, vartype: str) -> bool:
    """True when `setting` (pg_settings.setting, counted in `unit`) equals the plan's value."""
    want = normalize(name, expected, unit, vartype).lower()
    if vartype in ("integer", "real") and unit:
        base = _base(float(setting), unit)
        return base is not None and f"{base:g}" == want
    return normalize(name, setting, unit, vartype).lower() == want


def display(setting: str, unit: str | None) -> str:
    """pg_settings value for humans ('32768' '8kB' -> '256MB')."""
    if not unit:
        return setting
    try:
        base = _base(float(setting), unit)
    except ValueError:
        return setting
    if base is None:
        return setting + unit
    if unit.endswith("B"):
        for u in ("TB", "GB", "MB", "kB"):
            if base >= _MEM[u] and base % _MEM[u] == 0:
                return f"{int(base // _MEM[u])}{u}"
        return f"{int(base)}B"
    for u in ("d", "h", "min", "s"):
        if base >= _TIME[u] and base % _TIME[u] == 0:
            return f"{int(base // _TIME[u])}{u}"
    return f"{base:g}ms"
