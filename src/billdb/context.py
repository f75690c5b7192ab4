"""The plan, the environment chosen from it, and where that environment keeps its state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from billdb.errors import BilldbError
from billdb.layout import Layout
from billdb.plan.load import DEFAULT_PLAN, load_plan
from billdb.plan.local_models import LocalEnvironment, Member
from billdb.plan.models import Plan


@dataclass(frozen=True)
class Context:
    plan: Plan
    plan_path: Path
    env_name: str = "local"

    @property
    def local(self) -> LocalEnvironment:
        return self.plan.environments.local

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.local.state_dir))

    @property
    def members(self) -> list[Member]:
        return list(self.local.members)

    def member(self, name: str) -> Member:
        for m in self.local.members:
            if m.name == name:
                return m
        names = ", ".join(m.name for m in self.local.members)
        raise BilldbError(f"no member {name!r} in the plan (members: {names})")


def load_context(plan_path: Path | str | None = None, env_name: str = "local") -> Context:
    path = Path(plan_path) if plan_path else DEFAULT_PLAN
    return Context(plan=load_plan(path), plan_path=path, env_name=env_name)
