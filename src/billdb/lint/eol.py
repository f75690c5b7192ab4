"""PostgreSQL end-of-life dates (data in billdb/data/postgres_eol.json) against today's date."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib import resources

from billdb.lint.findings import Finding

WARN_DAYS = 365  # a year's notice: a major upgrade needs planning and a test cycle


@cache
def eol_dates() -> dict[int, date]:
    text = resources.files("billdb.data").joinpath("postgres_eol.json").read_text("utf-8")
    versions = json.loads(text)["versions"]
    return {int(v): date.fromisoformat(d["eol"]) for v, d in versions.items()}


def supported(today: date) -> list[int]:
    return sorted(v for v, eol in eol_dates().items() if eol > today)


def check(version: int, section: str, today: date, line: int | None = None) -> list[Finding]:
    dates = eol_dates()
    newest = supported(today)
    pick = next((v for v in newest if (dates[v] - today).days > WARN_DAYS), newest[-1])
    fix = f"use PostgreSQL {pick} (supported until {dates[pick]})"
    if version not in dates:
        return [Finding("version.unknown", "error", section,
                        f"PostgreSQL {version} is not a released major version billdb knows "
                        f"(known: {', '.join(map(str, sorted(dates)))})", fix, line, "data")]
    eol = dates[version]
    if eol <= today:
        return [Finding("version.eol", "error", section,
                        f"PostgreSQL {version} reached end of life on {eol} ({(today - eol).days} "
                        f"days before {today}): no more security or bug fixes", fix, line, "data")]
    if (eol - today).days <= WARN_DAYS:
        return [Finding("version.eol_soon", "warning", section,
                        f"PostgreSQL {version} reaches end of life on {eol}, "
                        f"{(eol - today).days} days after {today}",
                        f"plan the major upgrade; {fix}", line, "data")]
    return []
