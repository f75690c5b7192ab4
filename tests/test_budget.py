"""The one budget model (billdb.plan.budget), and `plan lint` and `verify` agreeing on it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from billdb.errors import PlanError
from billdb.plan import budget
from billdb.plan.load import load_plan
from billdb.plan.types import server_size_bytes
from conftest import PLAN, write_plan

plan = load_plan(PLAN)
PODS = (15, 60, 200)


def _local(pods: int, **kw) -> list[budget.Budget]:
    return budget.connection_budgets(replace(budget.plan_connections(plan, "local"),
                                             pods=pods, **kw))


@pytest.mark.unit
def test_the_shipped_plan_holds_on_both_targets():
    for target in ("local", "prod"):
        assert all(b.ok for b in budget.connection_budgets(budget.plan_connections(plan, target)))
    by_name = {b.name: b for b in _local(15)}
    assert by_name["pooler_clients"].total == 15 * 15 * 3
    # 2 pooler databases x (60 + 10) + 20 admin + 3 superuser reserved + 2 WAL senders
    assert by_name["primary"].total == 165
    assert by_name["replica"].total == 70 + 20 + 3


@pytest.mark.unit
@pytest.mark.parametrize(("pods", "clients", "ok"), [(15, 675, True), (44, 1980, True),
                                                     (45, 2025, False), (60, 2700, False),
                                                     (200, 9000, False)])
def test_pods_x_pools_x_size_against_max_client_conn(pods, clients, ok):
    b = next(b for b in _local(pods) if b.name == "pooler_clients")
    assert (b.total, b.ok, b.field) == (clients, ok, "service.max_pods")
    assert budget.max_pods(budget.plan_connections(plan)) == 44


@pytest.mark.unit
def test_without_the_pooler_the_pods_reach_the_servers():
    b = {x.name: x for x in _local(15, pooler=None)}
    assert b["primary"].total == 15 * 15 * 2 + 20 + 3 + 2 and not b["primary"].ok
    assert b["replica"].total == 15 * 15 + 20 + 3 and not b["replica"].ok
    assert budget.max_pods(replace(budget.plan_connections(plan), pooler=None)) == 5
    # no replica: its pools fall back to the primary
    (only,) = _local(2, pooler=None, has_replica=False, standbys=1)
    assert only.total == 2 * 15 * 3 + 20 + 3 + 1


@pytest.mark.unit
def test_azure_counts_its_own_reserve():
    b = {x.name: x for x in budget.connection_budgets(budget.plan_connections(plan, "prod"))}
    assert b["primary"].total == 140 + 20 + 15
    assert "Azure reserved" in b["primary"].describe()


@pytest.mark.unit
def test_up_refuses_a_plan_whose_budget_cannot_hold():
    budget.refuse_unless_held(plan)
    too_many = plan.model_copy(update={"service": plan.service.model_copy(
        update={"max_pods": 60})})
    with pytest.raises(PlanError, match=r"budget\.pooler_clients.*service\.max_pods"):
        budget.refuse_unless_held(too_many)


@pytest.mark.unit
def test_memory_budget_and_sizes_read_like_patroni():
    assert server_size_bytes("4GB") == 4 * 1024**3
    assert server_size_bytes("16384", "8kB") == 128 * 1024**2
    assert server_size_bytes("lots") is None
    m = budget.plan_memory(plan)
    assert m.total == 4 * 1024**3 + 200 * 16 * 1024**2 + 3 * 1024**3
    assert not m.tight
    seed = replace(m, work_mem=64 * 1024**2)
    assert seed.over and seed.work_mem_fit_mb() == 29
    assert "= 10368MB (63%) <= RAM 16384MB" in m.describe()
    local = budget.memory({"shared_buffers": "256MB", "work_mem": "1MB",
                           "maintenance_work_mem": "64MB", "max_connections": "200"}, 1024**3)
    assert local.total == (256 + 200 + 3 * 64) * 1024**2 and not local.over
    hungry = plan.model_copy(update={"parameters": plan.parameters.model_copy(
        update={"work_mem": "64MB"})})
    with pytest.raises(PlanError, match=r"budget\.memory.*parameters\.work_mem to at most 29MB"):
        budget.refuse_unless_held(hungry)


def _pods(n: int):
    def mutate(doc):
        doc["service"]["max_pods"] = n
    return mutate


def test_lint_and_verify_agree_for_15_60_and_200_pods(env, tmp_path):
    """Plan copies differing only in service.max_pods, against the live environment."""
    from conftest import PORT_BASE, billdb

    for pods in PODS:
        copy = write_plan(tmp_path / f"plan-{pods}.yaml", env.state_dir, PORT_BASE, _pods(pods))
        lint = json.loads(billdb("plan", "lint", "--today", "2026-11-27", "--json",
                                 "--plan", str(copy), check=False).stdout)
        lint_bad = {f["id"] for f in lint["findings"] if f["severity"] == "error"
                    and f["id"] in ("budget.pooler_clients", "budget.connections")}
        report = json.loads(billdb("verify", "--json", plan=copy, check=False).stdout)
        checks = [c for c in report["checks"] if c["id"].startswith("budget.")]
        assert {c["id"] for c in checks} >= {"budget.pooler_clients", "budget.primary",
                                             "budget.replica", "budget.memory"}
        verify_bad = {c["id"] for c in checks if not c["ok"]}
        assert bool(lint_bad) == bool(verify_bad), (pods, lint_bad, verify_bad)
        assert ("budget.pooler_clients" in lint_bad) == ("budget.pooler_clients" in verify_bad)
        assert bool(verify_bad) == (pods > 44), pods


@pytest.mark.unit
def test_pools_per_client_is_what_the_client_opens():
    from billdb.client.db import POOLS

    assert len(POOLS) == budget.CLIENT_POOLS
    assert len([p for p in POOLS if p != "replica"]) == budget.PRIMARY_POOLS
