"""Test fixtures: a real environment (etcd, Patroni, PostgreSQL) built from a copy of the plan
with its own ports and state directory, so tests never touch the `make up` environment."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from billdb.cli import satellites

satellites.install()  # tests call ops in process, as the command line does after this

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "plans" / "bill-inquiry.yaml"
BILLDB = str(Path(sys.executable).parent / "billdb")
# `make test` runs three pytest-xdist workers (gw0..gw2), each with its own environment: the
# worker's number moves its ports and state directory by 200 (a module's own: +100).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
PORT_BASE = int(os.environ.get("BILLDB_TEST_PORT_BASE", "25000")) + 200 * _WORKER
# The longest files first, so the workers finish together (within a file the order stays).
LONGEST_FIRST = ("test_client_jdbc", "test_supervise", "test_journal", "test_ha", "test_operations",
                 "test_monitoring", "test_workload", "test_converge", "test_backup",
                 "test_azure", "test_foundation")


def write_plan(path: Path, state_dir: Path, port_base: int = PORT_BASE,
               mutate: Callable[[dict], None] | None = None) -> Path:
    """A copy of the real plan with test ports and state directory (and optional edits)."""
    yaml = YAML(typ="rt")
    doc = yaml.load(PLAN.read_text(encoding="utf-8"))
    local = doc["environments"]["local"]
    local["state_dir"] = str(state_dir)
    local["etcd"]["client_port"] = port_base
    local["etcd"]["peer_port"] = port_base + 1
    local["pooler_port"] = port_base + 2
    for i, member in enumerate(local["members"]):
        member["port"] = port_base + 10 + i
        member["rest_port"] = port_base + 20 + i
    local["backup"]["azurite_port"] = port_base + 30
    local["backup"]["restore_ports"] = [port_base + 31, port_base + 39]
    if "monitoring" in local:
        mon = local["monitoring"]
        for i, key in enumerate(("prometheus_port", "alertmanager_port", "node_exporter_port",
                                 "exporter_port", "receiver_port")):
            mon[key] = port_base + 3 + i
        mon["postgres_exporter_ports"] = [port_base + 13 + i for i in range(len(local["members"]))]
    if mutate:
        mutate(doc)
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)
    return path


def billdb(*args: str, plan: Path | None = None, check: bool = True,
           timeout: float = 600) -> subprocess.CompletedProcess[str]:
    argv = [BILLDB, *(["--plan", str(plan)] if plan else []), *args]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if check and res.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
    return res


@dataclass
class Env:
    plan: Path
    state_dir: Path

    def run(self, *args: str, check: bool = True, timeout: float = 600):
        return billdb(*args, plan=self.plan, check=check, timeout=timeout)

    def context(self):
        from billdb.context import load_context

        return load_context(self.plan)

    def dsn(self, role: str, route: str = "write") -> str:
        return self.run("dsn", "--role", role, "--route", route).stdout.strip()


@contextlib.contextmanager
def running_env(tmp_path_factory: pytest.TempPathFactory, port_base: int,
                mutate: Callable[[dict], None] | None = None) -> Iterator[Env]:
    """A real three-member environment on `port_base`, stopped and purged afterwards."""
    state = Path(f"/tmp/billdb-test-{port_base}")
    plan = write_plan(tmp_path_factory.mktemp("plan") / "plan.yaml", state, port_base, mutate)
    e = Env(plan, state)
    e.run("down", "--purge", "--yes", check=False)  # leftovers of an interrupted run
    try:
        e.run("up")
        yield e
    finally:  # also when `up` failed: nothing of a test environment is left running
        # BILLDB_TEST_KEEP=1 keeps the state directory (stopped) to read its logs afterwards.
        down = e.run("down", *([] if os.environ.get("BILLDB_TEST_KEEP") else ["--purge", "--yes"]),
                     check=False)
    # Reached when nothing else failed: a `down` that fails is an error of its own (a broken
    # `down` once left whole environments running behind a passing run).
    assert down.returncode == 0, f"down exited {down.returncode}:\n{down.stderr}"


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One real three-member environment for the whole session (of this worker)."""
    with running_env(tmp_path_factory, PORT_BASE) as e:
        yield e


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """An environment of the module's own, for tests that judge the last hours (alerts,
    checklists) and must not see the drills other files ran in the session's one."""
    with running_env(tmp_path_factory, PORT_BASE + 100) as e:
        yield e


# Fixtures that start or need servers; a test marked `unit` must use none of them.
SERVER_FIXTURES = {"env", "fresh_env", "scratch"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`pytest -m unit` runs with no server: refuse a unit test that asks for one."""
    bad = [f"{item.nodeid} uses {sorted(SERVER_FIXTURES & set(item.fixturenames))}"
           for item in items if item.get_closest_marker("unit")
           and SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))]
    if bad:
        raise pytest.UsageError("unit tests must not use server fixtures:\n" + "\n".join(bad))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: keeps file order
