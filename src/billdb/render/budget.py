"""The connection budget, as verify and up read it: the one model in billdb.plan.budget.

Kept as a module so existing imports (`billdb.render.budget.budgets`) go on working.
"""

from __future__ import annotations

from billdb.plan.budget import CLIENT_POOLS, PRIMARY_POOLS, SUPERUSER_RESERVED, Budget, for_members
from billdb.plan.models import Plan

__all__ = ["CLIENT_POOLS", "PRIMARY_POOLS", "SUPERUSER_RESERVED", "Budget", "budgets"]


def budgets(plan: Plan, standbys: int, has_replica: bool = True) -> list[Budget]:
    """The plan's budgets on the members that are there (standbys = WAL senders)."""
    return for_members(plan, standbys, has_replica)
