"""Values as people read them (text output) and as machines read them (--json). Pure.

Text: times in the plan's zone to the second, durations as `1m 20s`, sizes in binary units,
yes/no, `-` for nothing, nested evidence as indented `key: value` lines; never Python syntax.
JSON: times in UTC ISO 8601, durations as seconds, everything else as it is.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from billdb import times

INDENT = "  "


def cell(value: Any, zone: str, key: str = "") -> str:
    """One table cell or report value for people."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        return times.duration(value.total_seconds())
    t = times.coerce(value)
    if t is not None:
        return times.for_people(t, zone)
    if isinstance(value, int | float) and key.endswith("_bytes"):
        return times.size(value)
    if isinstance(value, int | float) and key.endswith("_s"):
        return times.duration(value)
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return "\n".join(lines(value, zone)) or "-"
    if isinstance(value, list | tuple | set):
        return _sequence(list(value), zone, key)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _sequence(items: list[Any], zone: str, key: str) -> str:
    if not items:
        return "none"
    if all(not isinstance(i, dict | list | tuple) for i in items):
        return ", ".join(cell(i, zone, key) for i in items)
    out: list[str] = []
    for item in items:
        text = cell(item, zone, key).splitlines() or ["-"]
        out.append(f"- {text[0]}")
        out += [f"{INDENT}{line}" for line in text[1:]]
    return "\n".join(out)


def lines(doc: dict[Any, Any], zone: str, depth: int = 0) -> list[str]:
    """`key: value` lines, nested mappings indented under their key."""
    out: list[str] = []
    pad = INDENT * depth
    for k, v in doc.items():
        name = label(str(k))
        if isinstance(v, dict) and v:
            out.append(f"{pad}{name}:")
            out += lines(v, zone, depth + 1)
            continue
        text = cell(v, zone, str(k)).splitlines() or ["-"]
        if len(text) == 1:
            out.append(f"{pad}{name}: {text[0]}")
        else:
            out.append(f"{pad}{name}:")
            out += [f"{pad}{INDENT}{line}" for line in text]
    return out


def label(key: str) -> str:
    """A column or key name for people: `size_bytes` -> `size`, `rto_s` -> `rto` (the value
    carries its unit)."""
    return key.removesuffix("_bytes").removesuffix("_s")


def for_machines(value: Any) -> Any:
    """The JSON form: UTC ISO times, durations in seconds (never negative), plain types."""
    if isinstance(value, datetime):
        return times.for_json(value) if value.tzinfo else value.isoformat()
    if isinstance(value, timedelta):
        return round(max(0.0, value.total_seconds()), 6)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        t = times.coerce(value)
        return times.for_json(t) if t is not None else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return for_machines(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): for_machines(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [for_machines(v) for v in value]
    if isinstance(value, Path | Enum):
        return str(value.value if isinstance(value, Enum) else value)
    return value
