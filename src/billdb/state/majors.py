"""The PostgreSQL major version of the environment's data directories against the plan's.

`up` converges settings within one major version; it never changes the major version of a
cluster that has data: that is pg_upgrade's job (`billdb upgrade --to N`: prechecks, a backup,
a point of no return). A plan whose `server.postgres_version` differs from the data on disk is
refused by `up` (exit 2, nothing touched) and reported by `plan lint`.
"""

from __future__ import annotations

from pathlib import Path

from billdb.errors import PlanError
from billdb.layout import Layout
from billdb.plan.models import Plan


class MajorVersionChange(PlanError):
    """The plan asks `up` for another major version than the data directories hold."""


def data_majors(plan: Plan) -> dict[str, int]:
    """Each member's major version as its data directory says (PG_VERSION); members without
    a data directory are left out."""
    lay = Layout(Path(plan.environments.local.state_dir))
    out = {}
    for m in plan.environments.local.members:
        try:
            text = (lay.member(m.name).data / "PG_VERSION").read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit():
            out[m.name] = int(text)
    return out


def change_asked(plan: Plan) -> str | None:
    """What is wrong, in one sentence, or None when the data (if any) is the plan's version."""
    want = plan.server.postgres_version
    other = {name: v for name, v in data_majors(plan).items() if v != want}
    if not other:
        return None
    found = ", ".join(f"{name}: {v}" for name, v in sorted(other.items()))
    have = max(other.values())
    if want > have:
        how = f"run `billdb upgrade --to {want}` (pg_upgrade, with its prechecks and a backup)"
    else:
        how = (f"PostgreSQL cannot go back from {have} to {want} in place: set "
               f"server.postgres_version back to {have}, or restore a backup taken on {want}")
    return (f"the plan asks for PostgreSQL {want} but the local environment's data directories "
            f"are another major version ({found}); `up` does not change major versions: {how}")


def refuse_change(plan: Plan) -> None:
    problem = change_asked(plan)
    if problem:
        raise MajorVersionChange(problem)
