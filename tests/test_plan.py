"""The plan file: valid as shipped, and bad plans rejected with one clear line (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from billdb.plan.load import load_plan
from billdb.render.parameters import cluster_parameters
from conftest import PLAN, billdb

pytestmark = pytest.mark.unit  # no server: plan, render and pure helpers


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = PLAN.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_shipped_plan_loads_with_both_environments():
    plan = load_plan(PLAN)
    assert plan.database.name == "bill_inquiry_db"
    assert plan.environments.prod.platform == "azure"
    assert [m.kind for m in plan.environments.local.members] == ["zone", "zone", "replica"]
    text = PLAN.read_text(encoding="utf-8")
    for seed_password in ("Complex#Password#2025!", "ReadOnly#Password#2025!",
                          "Backup#Password#2025!", "Complex#PostgreSQL#2025!"):
        assert seed_password not in text

    def keys(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    secretish = [k for k in keys(plan.model_dump()) if "password" in k or "secret" in k]
    assert secretish == ["password_encryption"]


@pytest.mark.parametrize(("old", "new", "key", "needle"), [
    ("  work_mem: 16MB", "  wrok_mem: 64MB", "parameters.wrok_mem", "wrok_mem"),
    ("max_connections: 200", 'max_connections: "lots"', "parameters.max_connections",
     "max_connections"),
    ("retention_days: 35", "retention_days: 90", "backup.retention_days", "retention_days: 90"),
    ("      tables: [select, insert, update, delete]", "      tables: [select, drop]",
     "roles.login.bill_app_user.tables.1", "tables: [select, drop]"),
])
def test_bad_plan_exits_2_with_file_line_and_key(tmp_path, old, new, key, needle):
    path = _broken(tmp_path, old, new)
    res = billdb("verify", plan=path, check=False)
    assert res.returncode == 2
    message = res.stderr.strip()
    assert "Traceback" not in res.stderr + res.stdout
    assert len(message.splitlines()) == 1, message
    assert f"{path}:{_line_of(path, needle)}: {key}:" in message


def test_misspelled_key_suggests_the_right_one(tmp_path):
    res = billdb("up", plan=_broken(tmp_path, "  work_mem: 16MB", "  wrok_mem: 64MB"), check=False)
    assert res.returncode == 2
    assert "did you mean 'work_mem'" in res.stderr


def test_bad_plan_applies_nothing(tmp_path):
    state = tmp_path / "state"
    path = _broken(tmp_path, "state_dir: /var/lib/billdb/local", f"state_dir: {state}")
    path.write_text(path.read_text().replace("max_connections: 200", "max_connections: -1"))
    assert billdb("up", plan=path, check=False).returncode == 2
    assert not state.exists()


def test_local_memory_parameters_keep_the_plan_ratios():
    plan = load_plan(PLAN)
    params = cluster_parameters(plan, "local")
    budget = plan.environments.local.memory_budget_mb
    assert params["shared_buffers"] == f"{budget // 4}MB"  # 4GB of 16GB
    assert params["effective_cache_size"] == f"{budget * 3 // 4}MB"  # 12GB of 16GB
    assert cluster_parameters(plan, "prod")["shared_buffers"] == "4GB"
    assert params["max_connections"] == "200"


def test_up_refuses_a_plan_whose_connection_budget_cannot_hold(tmp_path):
    """Exit 2 naming the plan field, before anything is created (and, should the refusal
    ever go, the bogus postgres_bin stops `up` at its first step instead of starting servers)."""
    from conftest import write_plan

    state = tmp_path / "state"

    def crowd(doc):
        doc["service"]["max_pods"] = 60
        doc["environments"]["local"]["postgres_bin"] = "/nonexistent/bin"

    plan = write_plan(tmp_path / "plan.yaml", state, mutate=crowd)
    res = billdb("up", plan=plan, check=False)
    assert res.returncode == 2, res.stderr
    assert "budget.pooler_clients" in res.stderr and "service.max_pods" in res.stderr
    assert "Traceback" not in res.stderr and not state.exists()
