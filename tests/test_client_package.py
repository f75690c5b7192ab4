"""billdb-client as its own distribution: a fresh venv gets it without the ops tool's
dependencies, and it works from a connection profile alone."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, Env

CLIENT = ROOT / "clients" / "python"
FORBIDDEN = re.compile(r"^(patroni|typer|azure[-_].*|pydantic|ruamel.*|billdb)$")


@pytest.mark.unit
def test_the_pinned_psycopg_pool_still_has_the_reconnect_hook():
    """db.py overrides two private psycopg_pool names; the exact pin holds only with them."""
    import psycopg_pool
    from psycopg_pool.base import AttemptWithBackoff

    pin = re.search(r'"psycopg-pool==([0-9.]+)"', (CLIENT / "pyproject.toml").read_text())
    assert pin and psycopg_pool.__version__ == pin.group(1)
    for name in ("INITIAL_DELAY", "DELAY_BACKOFF", "update_delay"):
        assert hasattr(AttemptWithBackoff, name), name
    params = list(inspect.signature(psycopg_pool.AsyncConnectionPool._add_connection).parameters)
    assert params[:3] == ["self", "attempt", "growing"], params


@pytest.mark.unit
def test_the_client_imports_nothing_of_the_ops_tool():
    for path in (CLIENT / "src" / "billdb_client").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) billdb[ .]", text, re.M), path


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("client-venv") / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(CLIENT)], check=True,
                   timeout=600)
    return venv


def test_a_fresh_venv_pulls_no_ops_dependency_and_works_from_a_profile(env: Env,
                                                                       fresh_venv: Path,
                                                                       tmp_path: Path):
    listed = subprocess.run([str(fresh_venv / "bin" / "pip"), "list", "--format", "json"],
                            check=True, capture_output=True, text=True).stdout
    names = sorted(p["name"].lower() for p in json.loads(listed))
    assert not [n for n in names if FORBIDDEN.match(n)], names
    print(json.dumps({"client_venv_packages": names}))
    written = json.loads((env.state_dir / "client-profile.json").read_text())
    printed = json.loads(env.run("app-config", "--format", "client-json").stdout)
    assert written == printed  # what `up` writes is what app-config prints
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps(printed))
    script = f"""
import asyncio, json
from billdb_client import BillDB, ClientConfig

async def main():
    for pooled in (False, True):
        async with BillDB(ClientConfig.from_profile({str(profile)!r}, through_pooler=pooled)) as db:
            key = f"client.pkg.{{pooled}}"
            async with db.write(user_id="u1") as conn:
                await conn.execute("INSERT INTO system_config (config_key, config_value) "
                                   "VALUES (%s, 'x') ON CONFLICT (config_key) DO NOTHING", (key,))
            rows = await db.fetch("SELECT config_value FROM system_config WHERE config_key = %s",
                                  (key,), route="read", user_id="u1")
            async with db.write() as conn:
                await conn.execute("DELETE FROM system_config WHERE config_key = %s", (key,))
            print(json.dumps({{"pooled": pooled, "rows": [list(r) for r in rows]}}))

asyncio.run(main())
"""
    res = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", script], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert out == [{"pooled": False, "rows": [["x"]]}, {"pooled": True, "rows": [["x"]]}]


@pytest.mark.unit
def test_pooler_stats_delta_is_per_transaction_over_the_run():
    from billdb.ops.bench.poolerstats import _delta

    s0 = {"total_xact_count": "10", "total_query_count": "20", "total_xact_time": "1000",
          "total_wait_time": "0"}
    s1 = {"total_xact_count": "110", "total_query_count": "320", "total_xact_time": "2001000",
          "total_wait_time": "50000"}
    assert _delta(s0, s1) == {"transactions": 100, "queries": 300, "avg_xact_ms": 20.0,
                              "avg_wait_ms": 0.5}
    assert _delta(None, {**s1, "total_xact_count": "0"})["avg_xact_ms"] is None
