"""`billdb verify`: every plan item checked on the live system, with its plan section.

Each module of this package contributes checks for one area; `verify()` runs them all
and never stops at the first failure, so the report names everything that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from billdb.context import Context
from billdb.errors import BilldbError
from billdb.ops.verify.check import Check

Collector = Callable[[Context], Iterable[Check]]


def collectors() -> list[tuple[str, Collector]]:
    from billdb.ops import registry
    from billdb.ops.verify import backup, database, dcs, privileges, schema, security, topology
    from billdb.ops.verify import encryption as encryption_checks
    from billdb.ops.verify import partitions as partition_checks
    from billdb.ops.verify import pooler as pooler_checks
    from billdb.ops.verify import supervision as supervision_checks

    return [
        ("topology", topology.checks),
        ("dcs", dcs.checks),
        ("database", database.checks),
        ("security", security.checks),
        ("privileges", privileges.checks),
        ("schema", schema.checks),
        ("partitions", partition_checks.checks),
        ("encryption", encryption_checks.checks),
        ("pooler", pooler_checks.checks),
        ("backup", backup.checks),
        ("supervision", supervision_checks.checks),
        *registry.get().verify_collectors,  # the satellites' (billdb.cli.satellites)
    ]


def verify(ctx: Context) -> dict[str, Any]:
    checks: list[Check] = []
    for area, collect in collectors():
        try:
            checks.extend(collect(ctx))
        except BilldbError as exc:
            checks.append(Check(f"{area}.reachable", area, "checks can run", str(exc), False))
    return {
        "ok": all(c.ok for c in checks) and bool(checks),
        "plan": str(ctx.plan_path),
        "env": ctx.env_name,
        "checks": [c.as_dict() for c in checks],
    }
