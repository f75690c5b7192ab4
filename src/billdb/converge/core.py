"""The shape every resource follows, and the two facts it produces.

A resource module has four parts:
- `desired(plan, ...)`: pure (no I/O, no randomness; secrets and salts are passed in);
- `observe(ctx, ...)`: reads the live system, never writes;
- `checks(desired, observed) -> list[Check]`: pure, every expectation with its ok flag, so
  `verify` can show the passing ones too;
- `apply(ctx, desired, drifts)`: changes the live system, only used by `up`.

`diff` is the same comparison reduced to what is wrong: the drifts that `apply` repairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from billdb.errors import StepError


@dataclass(frozen=True)
class Check:
    """One verified fact: what the plan expects, what the live system shows."""

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


@dataclass(frozen=True)
class Drift:
    """A check that failed: the plan section it comes from, what was expected, what is."""

    id: str
    section: str
    expected: Any
    actual: Any

    @classmethod
    def of(cls, check: Check) -> Drift:
        return cls(check.id, check.section, check.expected, check.actual)

    def __str__(self) -> str:
        return f"{self.id}: expected {self.expected}, found {self.actual}"


def diff(checks: Iterable[Check]) -> list[Drift]:
    """The drifts among `checks`: the ones that are not ok."""
    return [Drift.of(c) for c in checks if not c.ok]


def ids(drifts: Iterable[Drift]) -> list[str]:
    return [d.id for d in drifts]


def require_converged(step: str, drifts: list[Drift]) -> None:
    """After apply, observe again: what is still wrong is an error naming each drift, so
    `up` never reports success while `verify` would still fail on the same resource."""
    if drifts:
        shown = "; ".join(str(d) for d in drifts[:5])
        more = f" (and {len(drifts) - 5} more)" if len(drifts) > 5 else ""
        raise StepError(step, f"still differs from the plan after applying: {shown}{more}")
