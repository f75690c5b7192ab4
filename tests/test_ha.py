"""High availability on the real cluster: crashes, routing, switchover, DR (issues 3, 9).

Every test leaves the cluster healthy (zone pair + replica) for the tests after it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import psycopg
import pytest

from billdb.client import BillDB, ClientConfig, RouteUnavailable, TransactionInterrupted
from billdb.engines import patroni, process
from billdb.retry import wait_until
from conftest import Env


@pytest.fixture(scope="module")
def env(fresh_env: Env) -> Env:
    """This file's own environment: its drills change the cluster's shape, and a long shared
    history of failovers and promotions must not decide what the next file's checks see."""
    return fresh_env


def _status(env: Env) -> dict:
    return json.loads(env.run("status", "--json", check=False).stdout)


def _member(env: Env, role: str) -> dict:
    return next(m for m in _status(env)["members"] if m["role"] == role)


def _verify_ok(env: Env) -> None:
    report = json.loads(env.run("verify", "--json", check=False).stdout)
    assert report["ok"], [c for c in report["checks"] if not c["ok"]]


MUX_WRITERS = 20
INSERT_ROW = ("INSERT INTO bill_inquiry_history (request_id, user_id, line_number) "
              "VALUES (%s, %s, '010') RETURNING inet_server_port()")


async def _multiplexed_writer(db: BillDB, rid_prefix: str, user: str, stop: asyncio.Event,
                              acked: list[str], interrupted: list[Exception]) -> None:
    """Single-statement writes (multiplexed, sharing commits with the other writers) until
    `stop`; a failover may interrupt them, never lose an acknowledged one."""
    n = 0
    while not stop.is_set():
        n += 1
        rid = f"{rid_prefix}-{n}"
        try:
            await db.execute(INSERT_ROW, [rid, user], user_id=rid_prefix, fetch=True)
            acked.append(rid)
        except (TransactionInterrupted, RouteUnavailable) as exc:
            interrupted.append(exc)
        await asyncio.sleep(0.01)


def test_client_survives_kill_9_of_the_primary(env: Env):
    """Acknowledged rows all exist on the new primary; the client resumes by itself. One
    writer runs explicit transactions while twenty others write multiplexed statements."""
    old = _member(env, "primary")
    ctx = env.context()
    held = patroni.service(ctx.local, ctx.layout, ctx.member(old["name"]))
    config = ClientConfig.from_plan(env.plan)
    user = f"ha-test-{int(time.time())}"

    async def scenario() -> tuple[list[str], list[TransactionInterrupted], set[int], list[str]]:
        acked: list[str] = []
        interrupted: list[TransactionInterrupted] = []
        ports_after_kill: list[int] = []
        async with BillDB(config) as db:
            stop = asyncio.Event()
            mux_acked: list[str] = []
            mux_interrupted: list[Exception] = []
            writers = [asyncio.create_task(_multiplexed_writer(
                db, f"{user}-m{k}", user, stop, mux_acked, mux_interrupted))
                for k in range(MUX_WRITERS)]
            killed, acked_before_kill = False, 0
            n = 0
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and sum(
                    p != old["port"] for p in ports_after_kill) < 5:
                n += 1
                try:
                    async with db.write() as conn:
                        cur = await conn.execute(INSERT_ROW, [f"{user}-{n}", user])
                        port = (await cur.fetchone())[0]
                    acked.append(f"{user}-{n}")
                    if killed:
                        ports_after_kill.append(port)
                except TransactionInterrupted as exc:
                    interrupted.append(exc)
                if not killed and len(acked) == 20:
                    acked_before_kill = len(mux_acked)
                    process.lose(held)  # the node is lost: supervision may not restart it
                    killed = True
            stop.set()
            await asyncio.gather(*writers)
            assert acked_before_kill > 0 and len(mux_acked) > acked_before_kill  # resumed
            assert len(mux_interrupted) <= config.pool_size * MUX_WRITERS
            acked += mux_acked
            rows = await db.fetch("SELECT request_id FROM bill_inquiry_history "
                                  "WHERE user_id = %s", [user], route="write")
            async with db.write() as conn:
                await conn.execute("DELETE FROM bill_inquiry_history WHERE user_id = %s", [user])
        return acked, interrupted, set(ports_after_kill) - {old["port"]}, [r[0] for r in rows]

    acked, interrupted, ports, present = asyncio.run(scenario())
    assert ports and old["port"] not in ports, "writes never moved to a new primary"
    assert set(acked) <= set(present), f"lost: {sorted(set(acked) - set(present))}"
    # Each interruption is a pooled connection to the dead server, discarded after it failed
    # (the FATAL of a dying backend may arrive after the pool's check): at most a pool's worth.
    assert len(interrupted) <= config.pool_size
    for exc in interrupted:
        assert "may be retried" in str(exc) or "outcome is unknown" in str(exc)
    process.start(held)  # the node is back: supervision runs Patroni, it rejoins (pg_rewind)
    assert _wait_whole(env, 90)


def _wait_whole(env: Env, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        members = _status(env)["members"]
        roles = sorted(m["role"] for m in members)
        if roles == ["primary", "replica", "sync_standby"] and all(
                m["state"] in ("running", "streaming") for m in members):
            return True
        time.sleep(1)
    return False


def test_reads_fall_back_to_the_primary_when_the_replica_is_down(env: Env):
    replica = next(m for m in _status(env)["members"] if m["kind"] == "replica")
    os.kill(replica["patroni_pid"], signal.SIGTERM)  # Patroni stops its PostgreSQL too
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
            m["state"] != "down" for m in _status(env)["members"] if m["kind"] == "replica"):
        time.sleep(0.5)
    status = env.run("status", "--json", check=False)
    assert status.returncode == 1
    down = next(m for m in json.loads(status.stdout)["members"] if m["kind"] == "replica")
    assert down["state"] == "down"

    async def reads() -> tuple[int, int]:
        async with BillDB(ClientConfig.from_plan(env.plan)) as db:
            rows = await db.fetch("SELECT count(*) FROM system_config", route="read")
            return rows[0][0], await db.served_by("analytics")

    count, port = asyncio.run(reads())
    assert count >= 13
    assert port == _member(env, "primary")["port"]
    env.run("up")
    assert _member(env, "replica")["state"] == "streaming"


def test_read_your_writes_while_the_replica_lags(env: Env):
    replica = _member(env, "replica")
    admin_replica = env.dsn("admin", "read").replace(
        "target_session_attrs=prefer-standby", "target_session_attrs=standby")
    user = f"ryw-{int(time.time())}"
    with psycopg.connect(admin_replica, autocommit=True) as rconn:
        assert rconn.execute("SELECT inet_server_port()").fetchone()[0] == replica["port"]
        rconn.execute("SELECT pg_wal_replay_pause()")
        # the pause is only requested here: replay stops at its next record
        assert wait_until(lambda: rconn.execute(
            "SELECT pg_get_wal_replay_pause_state()").fetchone()[0] == "paused", 10, 0.1)
        try:
            async def scenario() -> tuple[int, int, list]:
                async with BillDB(ClientConfig.from_plan(env.plan)) as db:
                    async with db.write(user_id=user) as conn:
                        await conn.execute(
                            "INSERT INTO bill_inquiry_history (request_id, user_id, "
                            "line_number) VALUES (%s, %s, '010')", [user, user])
                    mine = await db.served_by("read", user_id=user)
                    others = await db.served_by("read", user_id="someone-else")
                    rows = await db.fetch("SELECT status FROM bill_inquiry_history "
                                          "WHERE request_id = %s", [user], user_id=user)
                    async with db.write() as conn:
                        await conn.execute("DELETE FROM bill_inquiry_history "
                                           "WHERE request_id = %s", [user])
                    return mine, others, rows

            mine, others, rows = asyncio.run(scenario())
        finally:
            rconn.execute("SELECT pg_wal_replay_resume()")
    assert rows == [("PROCESSING",)]
    assert mine == _member(env, "primary")["port"]
    assert others == replica["port"]


def test_switchover_stays_in_the_zone_pair(env: Env):
    before = _member(env, "primary")["name"]
    refused = env.run("switchover", "--to", "replica", check=False)
    assert refused.returncode == 1 and "zone pair" in refused.stderr
    report = json.loads(env.run("switchover", "--json").stdout)
    assert report["ok"] and report["from"] == before and report["to"] != before
    assert report["to"] in ("zone1", "zone2") and report["write_gap_s"] is not None
    _verify_ok(env)


def test_drill_failover_loses_nothing_and_the_old_primary_rejoins(env: Env):
    """A lost node: held down until the standby writes, then supervision brings it back."""
    report = json.loads(env.run("drill", "failover", "--json").stdout)
    assert report["ok"] and report["lost_commits"] == 0 and report["rejoined"]
    assert report["old_primary"] != report["new_primary"] and not report["kept_leader"]
    assert report["rto_s"] > 0 and report["acked_commits"] > 20
    assert report["rejoined_s"] > report["rto_s"] and report["rejoin_s"] < 60
    print(f"\nnode loss: writes stopped {report['rto_s']} s, old primary streaming again "
          f"{report['rejoined_s']} s after the kill ({report['rejoin_s']} s after release)")


def test_drill_crashed_process_loses_nothing(env: Env):
    """A crashed process: supervision restarts Patroni at once; whichever member leads
    afterwards, no acknowledged commit is lost and the old primary is back."""
    report = json.loads(env.run("drill", "failover", "--crash", "--json").stdout)
    assert report["ok"] and report["lost_commits"] == 0 and report["rejoined"]
    assert report["mode"] == "process crash" and report["rejoin_s"] is None
    assert report["kept_leader"] == (report["old_primary"] == report["new_primary"])
    print(f"\nprocess crash: kept_leader={report['kept_leader']}, writes stopped "
          f"{report['rto_s']} s, whole again {report['rejoined_s']} s after the kill")


@pytest.mark.parametrize("mode", ["--postmaster-only"])
def test_drill_postmaster_crash_recovers_in_place(env: Env, mode: str):
    report = json.loads(env.run("drill", "failover", mode, "--json").stdout)
    assert report["ok"] and report["old_primary"] == report["new_primary"]
    assert report["lost_commits"] == 0


def test_drill_dr_then_rebuild_then_verify(env: Env):
    report = json.loads(env.run("drill", "dr", "--json").stdout)
    assert report["ok"] and report["promoted"] == "replica" and report["rto_s"] > 0
    assert _member(env, "primary")["name"] == "replica"
    routes = json.loads((env.state_dir / "routes.json").read_text())
    assert routes["write"][0] == _member(env, "primary")["port"]
    again = env.run("drill", "dr", check=False)
    assert again.returncode == 1 and "dr rebuild" in again.stderr
    env.run("dr", "rebuild")
    _verify_ok(env)
    assert _member(env, "replica")["name"] == "replica"
