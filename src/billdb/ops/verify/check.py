"""One verified fact: what the plan expects, what the live system shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    id: str
    section: str
    expected: Any
    actual: Any
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "section": self.section, "expected": self.expected,
                "actual": self.actual, "ok": self.ok}


def equal(id: str, section: str, expected: Any, actual: Any) -> Check:
    return Check(id, section, expected, actual, expected == actual)
