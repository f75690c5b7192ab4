"""billdb_client.db, plus `ClientConfig.from_plan` (the profile built from the plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from billdb_client import config as _config
from billdb_client import profile as _profile
from billdb_client.db import POOLS, READ_ROUTES, BillDB

__all__ = ["POOLS", "READ_ROUTES", "BillDB", "ClientConfig"]


class ClientConfig(_config.ClientConfig):
    """billdb_client's configuration; the ops tool may also build it from the plan."""

    @classmethod
    def from_plan(cls, plan_path: str | Path | None = None, through_pooler: bool = False,
                  **overrides: Any) -> ClientConfig:
        """The local environment's profile (what `up` writes), from the plan itself."""
        from billdb import appconfig
        from billdb.context import load_context

        ctx = load_context(plan_path)
        if through_pooler and not ctx.plan.pooler.enabled:
            raise ValueError("the plan disables the pooler (pooler.enabled: false)")
        doc = appconfig.client_profile(appconfig.settings(ctx, "local"))
        return cls.from_dict(_profile.check(doc, Path(ctx.plan_path)), through_pooler,
                             **overrides)
