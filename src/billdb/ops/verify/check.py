"""One verified fact: what the plan expects, what the live system shows (see converge.core)."""

from __future__ import annotations

from billdb.converge.core import Check, equal

__all__ = ["Check", "equal"]
