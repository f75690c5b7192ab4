"""A lint finding: what is wrong, where in the plan, and the concrete fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    section: str
    message: str
    fix: str
    line: int | None = None
    # How it was found: "static" (read from the text), "executed" (the scratch server said
    # so), "data" (a data file in the repository: end-of-life dates, Azure definitions), or
    # "state" (the local environment on disk: the major version of its data directories).
    source: str = "static"

    def as_dict(self) -> dict:
        return asdict(self)


def _section_key(section: str) -> tuple:
    nums = []
    for part in section.lstrip("§").split(" ")[0].split("."):
        nums.append(int(part) if part.isdigit() else 999)
    return tuple(nums)


def ordered(findings: list[Finding]) -> list[Finding]:
    """Errors first, then by section and line, with exact duplicates dropped."""
    seen, out = set(), []
    for f in findings:
        key = (f.id, f.section, f.line, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return sorted(out, key=lambda f: (_ORDER[f.severity], _section_key(f.section),
                                      f.line or 0, f.id))


def report(target: str, findings: list[Finding], **extra) -> dict:
    """The JSON document of `billdb plan lint`."""
    found = ordered(findings)
    counts = {s: sum(1 for f in found if f.severity == s) for s in _ORDER}
    return {"target": target, "ok": counts["error"] == 0, "counts": counts, **extra,
            "findings": [f.as_dict() for f in found]}
