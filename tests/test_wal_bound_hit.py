"""The WAL bound hit (issue 22, part 4): with the geo repository away and a tiny disk budget,
pgBackRest gives the archive up at archive-push-queue-max instead of letting pg_wal grow, a
sev1 alert says so, and `backup verify` reports the backups broken until a new full backup.
A real environment whose plan has a 1 GB disk budget (WAL bound 102 MB)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from billdb.engines import azurite, process
from billdb.ops.backup import archive_state, common
from billdb.render import bounds
from billdb.state import cluster, metrics
from conftest import PORT_BASE, Env, running_env

DROP_WAIT_S = 420  # one asynchronous round against a dead repository is ~80 s; a loaded host


@pytest.fixture(scope="module")
def small_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    def small(doc: dict) -> None:
        doc["environments"]["local"]["disk_budget_gb"] = 1

    with running_env(tmp_path_factory, PORT_BASE + 100, small) as e:
        yield e


def _make_wal(env: Env, segments: int) -> None:
    ctx = env.context()
    with cluster.admin_connect(ctx) as conn:
        for _ in range(segments):
            conn.execute("SELECT pg_logical_emit_message(false, 'billdb-test', 'x')")
            conn.execute("SELECT pg_switch_wal()")


def _firing(env: Env, alert: str) -> bool:
    return bool(metrics.query(env.context(), f'ALERTS{{alertname="{alert}",'
                              'alertstate="firing"}'))


def test_archive_given_up_at_the_bound_then_healed_by_a_full(small_env: Env) -> None:
    ctx = small_env.context()
    bound = bounds.disk_bounds(ctx.plan)
    assert bound.wal_keep_mb == 102
    geo = azurite.service(ctx.local, ctx.layout, common.azure_key(ctx))
    process.stop(geo)
    try:
        _make_wal(small_env, 2 * bound.wal_keep_mb // 16 + 2)  # twice the bound, in segments
        deadline = time.time() + DROP_WAIT_S
        while time.time() < deadline and not archive_state.drops(ctx):
            _make_wal(small_env, 1)
            time.sleep(10)
        assert archive_state.drops(ctx), "pgBackRest never dropped the queue"
        deadline = time.time() + 120
        while time.time() < deadline and not _firing(small_env, "WalArchiveDropped"):
            time.sleep(3)
        assert _firing(small_env, "WalArchiveDropped")  # sev1, within two minutes
    finally:
        process.start(geo)
        azurite.wait_listening(ctx.local.backup.azurite_port)
    res = small_env.run("backup", "verify", "--json", check=False, timeout=900)
    doc = json.loads(res.stdout)
    assert res.returncode == 1 and not doc["ok"], doc
    assert all(any("dropped" in e for e in r["errors"]) for r in doc["repos"]), doc
    small_env.run("backup", "--type", "full", timeout=900)
    res = small_env.run("backup", "verify", "--json", check=False, timeout=900)
    assert res.returncode == 0, res.stdout
