"""PostgreSQL support windows against the install day: the community's end of life and Azure's
end of standard support (data and their sources in billdb/data/postgres_eol.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

from billdb.lint.findings import Finding
from billdb.plan.models import Plan
from billdb.state import majors

WARN_DAYS = 365  # a year's notice: a major upgrade needs planning and a test cycle


@cache
def _data() -> dict:
    text = resources.files("billdb.data").joinpath("postgres_eol.json").read_text("utf-8")
    return json.loads(text)


@cache
def eol_dates() -> dict[int, date]:
    """The community's end of life of each major version."""
    return {int(v): date.fromisoformat(d["eol"]) for v, d in _data()["versions"].items()}


@cache
def azure_dates() -> dict[int, date]:
    """The end of Azure Database for PostgreSQL's standard support of each major version."""
    return {int(v): date.fromisoformat(d)
            for v, d in _data()["azure_standard_support_end"].items()}


@dataclass(frozen=True)
class Window:
    """One support window of a version: whose, when it ends, where that date comes from."""
    who: str
    end: date
    source: str

    def days_left(self, today: date) -> int:
        return (self.end - today).days

    def describe(self, today: date) -> str:
        left = self.days_left(today)
        when = (f"{left} days after {today}" if left > 0 else f"{-left} days before {today}"
                if left < 0 else "that day")
        return f"{self.who} ends {self.end} ({when}; {self.source})"


def windows(version: int) -> list[Window]:
    data, out = _data(), []
    if version in eol_dates():
        out.append(Window("community support", eol_dates()[version],
                          data["source"].split(" ")[0]))
    if version in azure_dates():
        out.append(Window("Azure standard support", azure_dates()[version],
                          data["azure_source"].split(" ")[0]))
    return out


def supported(today: date) -> list[int]:
    return sorted(v for v, eol in eol_dates().items() if eol > today)


def check(version: int, section: str, today: date, line: int | None = None) -> list[Finding]:
    """A version past either end is an error; less than WARN_DAYS left of either, a warning.
    Both dates and their sources are in the message."""
    dates = eol_dates()
    newest = supported(today)
    pick = next((v for v in newest if min(w.days_left(today) for w in windows(v)) > WARN_DAYS),
                newest[-1])
    last = min(w.end for w in windows(pick))
    fix = f"use PostgreSQL {pick} (supported until {last})"
    if version not in dates:
        return [Finding("version.unknown", "error", section,
                        f"PostgreSQL {version} is not a released major version billdb knows "
                        f"(known: {', '.join(map(str, sorted(dates)))})", fix, line, "data")]
    wins = windows(version)
    both = "; ".join(w.describe(today) for w in wins)
    ended = [w for w in wins if w.days_left(today) <= 0]
    if ended:
        return [Finding("version.eol", "error", section,
                        f"PostgreSQL {version} is past the end of {ended[0].who}: {both}. "
                        "No more security or bug fixes", fix, line, "data")]
    if any(w.days_left(today) <= WARN_DAYS for w in wins):
        return [Finding("version.eol_soon", "warning", section,
                        f"PostgreSQL {version} has less than a year of support left at "
                        f"install time ({today}): {both}",
                        f"plan the major upgrade (billdb upgrade --to {pick}); {fix}", line,
                        "data")]
    return []


def major_change(plan: Plan, section: str, line: int | None = None) -> list[Finding]:
    """A plan asking `up` for another major version than the local data directories hold."""
    problem = majors.change_asked(plan)
    if not problem:
        return []
    want = plan.server.postgres_version
    return [Finding("version.major_change", "error", section, problem,
                    f"billdb upgrade --to {want}, or keep server.postgres_version at the data's "
                    "version", line, "state")]
