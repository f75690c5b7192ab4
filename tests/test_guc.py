"""Restart needs come from the server's own catalogue (`postgres --describe-config`), never a
hand list: the offline `azure plan` annotates its parameters from it."""

from __future__ import annotations

import pytest

from billdb.azure import operations
from billdb.azure.target import target
from billdb.engines import guc, tools
from billdb.plan.load import load_plan
from conftest import ROOT

pytestmark = pytest.mark.unit

MAJOR = 15


@pytest.fixture(autouse=True)
def _binaries():
    if tools.postgres_bin(MAJOR) is None:
        pytest.skip(f"PostgreSQL {MAJOR} binaries are not installed (scripts/install.sh)")


def test_contexts_are_the_servers():
    assert guc.needs_restart(MAJOR, "max_connections") is True
    assert guc.needs_restart(MAJOR, "Shared_Buffers") is True
    assert guc.needs_restart(MAJOR, "work_mem") is False
    assert guc.needs_restart(MAJOR, "pgbouncer.pool_mode") is None
    assert guc.needs_restart(99, "max_connections") is None


def test_azure_plan_annotates_restarts_from_the_catalogue():
    plan = load_plan(ROOT / "plans" / "bill-inquiry.yaml")
    ops = operations.build(target(plan))
    annotated = {op.key.removeprefix("parameter.") for op in ops
                 if op.key.startswith("parameter.") and "needs a restart" in op.note}
    postmaster = {op.key.removeprefix("parameter.") for op in ops
                  if op.key.startswith("parameter.")
                  and guc.contexts(MAJOR).get(op.key.removeprefix("parameter.")) == "postmaster"}
    assert annotated == postmaster == {"max_connections", "shared_preload_libraries",
                                       "shared_buffers"}
    restart = next(op for op in ops if op.key == "restart")
    assert all(name in restart.note for name in annotated)
