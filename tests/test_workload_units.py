"""The workload's pure parts, without servers: field encryption, the connection budget, the
PgBouncer configuration, partition coverage and the pgbench script."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest

from billdb.client.crypto import (
    ENCRYPTED_COLUMNS,
    SECRET_NAME,
    DecryptionError,
    FieldCipher,
    Keyring,
    context,
    key_id_of,
)
from billdb.errors import ArgumentError
from billdb.ops.bench.pgbench import FLOW_STATEMENTS, flow_script
from billdb.ops.bench.stats import percentile
from billdb.ops.partitions import uncovered
from billdb.plan.load import load_plan
from billdb.render.budget import budgets
from billdb.render.pgbouncer import PoolerFiles, auth_file, pgbouncer_ini
from billdb.render.pgbouncer import settings as pgbouncer_settings
from conftest import PLAN

pytestmark = pytest.mark.unit  # no server: plan, render and pure helpers

ENVELOPE = re.compile(r"^v1:k[0-9]+:[A-Za-z0-9_-]{38,}$")  # the CHECK of migration V004


def _ring(*ids: str, active: str) -> Keyring:
    keys = {i: base64.b64encode(os.urandom(32)).decode() for i in ids}
    return Keyring.from_secrets({SECRET_NAME: json.dumps({"active": active, "keys": keys})})


def test_seal_open_round_trip_binds_row_and_key_id():
    ring = _ring("k1", active="k1")
    cipher = FieldCipher(ring)
    aad = context("customer_info.customer_name", "c-1")
    token = cipher.seal_text("홍길동", aad)
    assert ENVELOPE.match(token) and key_id_of(token) == "k1" and "홍길동" not in token
    assert cipher.open_text(token, aad) == "홍길동"
    assert cipher.seal_text("홍길동", aad) != token  # a fresh nonce each time
    with pytest.raises(DecryptionError, match="moved from another row"):
        cipher.open_text(token, context("customer_info.customer_name", "c-2"))
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        cipher.open_text(tampered, aad)


def test_rotation_opens_old_values_and_seals_with_the_new_key():
    old = _ring("k1", active="k1")
    old_token = FieldCipher(old).seal_json({"total": 45000}, b"ctx")
    new = old.rotated()
    assert new.active == "k2" and set(new.keys) == {"k1", "k2"}
    assert Keyring.from_secrets({SECRET_NAME: new.to_secret()}) == new
    cipher = FieldCipher(new)
    assert cipher.open_json(old_token, b"ctx") == {"total": 45000}
    assert key_id_of(cipher.seal_json({"total": 1}, b"ctx")) == "k2"
    assert new.next_id() == "k3"
    with pytest.raises(DecryptionError, match="k9"):
        FieldCipher(old).open(old_token.replace("v1:k1:", "v1:k9:"), b"ctx")


def test_keyring_refuses_missing_active_key_and_short_keys():
    with pytest.raises(Exception, match="no active column key"):
        Keyring.from_secrets({SECRET_NAME: json.dumps({"active": "k2", "keys": {}})})
    with pytest.raises(Exception, match="256-bit"):
        Keyring.from_secrets({SECRET_NAME: json.dumps({"active": "k1", "keys": {"k1": "QUJD"}})})
    with pytest.raises(Exception, match="run `billdb up`"):
        Keyring.from_secrets({})


def test_plan_columns_are_the_encrypted_ones():
    plan = load_plan(PLAN)
    assert sorted(plan.security.column_encryption.columns) == sorted(ENCRYPTED_COLUMNS)


def test_budget_needs_the_pooler_for_the_plans_pods():
    plan = load_plan(PLAN)
    by_name = {b.name: b for b in budgets(plan, standbys=2)}
    assert all(b.ok for b in by_name.values()), [b.describe() for b in by_name.values()]
    assert by_name["primary"].total <= plan.parameters.max_connections
    direct = plan.model_copy(update={"pooler": plan.pooler.model_copy(update={"enabled": False})})
    primary = {b.name: b for b in budgets(direct, standbys=2)}["primary"]
    assert not primary.ok and "direct (15 pods x 15 x 2 pools)" in primary.describe()
    crowded = plan.model_copy(update={"service": plan.service.model_copy(update={"max_pods": 50})})
    clients = {b.name: b for b in budgets(crowded, standbys=2)}["pooler_clients"]
    assert not clients.ok and clients.total == 50 * 15 * 3


def test_pgbouncer_ini_is_tls_on_both_sides_and_follows_given_ports():
    plan = load_plan(PLAN)
    files = PoolerFiles(*(Path(f"/x/{n}")
                          for n in ("userlist.txt", "ca.crt", "server.crt", "server.key")))
    ini = pgbouncer_ini(plan, files, 16432, 15433, 15434)
    assert "bill_inquiry_db = host=127.0.0.1 port=15433 " in ini
    assert "bill_inquiry_db_read = host=127.0.0.1 port=15434 " in ini
    for line in ("pool_mode = transaction", "client_tls_sslmode = require",
                 "server_tls_sslmode = verify-full", "auth_type = scram-sha-256",
                 "max_client_conn = 2000", "max_db_connections = 70",
                 "max_prepared_statements = 200", "pkt_buf = 16384"):
        assert line in ini.splitlines()
    # the [pgbouncer] section is written from the typed settings up compares with SHOW CONFIG
    settings = {s.name: s.text for s in pgbouncer_settings(plan, files, 16432)}
    assert [f"{k} = {v}".rstrip() for k, v in settings.items()] == \
        ini.split("[pgbouncer]\n")[1].splitlines()
    assert settings["pkt_buf"] == "16384" and settings["listen_port"] == "16432"
    assert "bill_inquiry_db" not in settings  # [databases] lines are not settings
    assert auth_file({"a": 'SCRAM-SHA-256$4096:x"y'}) == '"a" "SCRAM-SHA-256$4096:x""y"\n'


def test_partition_gaps():
    t = [dt.datetime(2026, m, 1, tzinfo=dt.UTC) for m in range(1, 6)]
    assert uncovered([(t[0], t[1]), (t[1], t[2])], t[0], t[2]) == []
    assert uncovered([(t[0], t[1])], t[0], t[2]) == [f"{t[1].isoformat()} .. {t[2].isoformat()}"]
    assert len(uncovered([(t[0], t[1]), (t[2], t[3])], t[0], t[4])) == 2


def test_pgbench_script_runs_the_repository_statements():
    script = flow_script()
    assert "%(" not in script and ":request_id" in script and ":line_number" in script
    sql = [s for s in script.split(";") if s.strip() and "\\set" not in s.split("\n")[-1]]
    assert len([s for s in sql if re.search(r"\b(SELECT|INSERT|UPDATE)\b", s)]) \
        >= len(FLOW_STATEMENTS)


def test_percentile_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile([], 50) is None


def test_compare_direct_takes_turns_direct_pooled_pooled_direct():
    from billdb.ops.bench import runner, schedule

    assert schedule.turn_seconds(30) == 5.0 and schedule.turn_seconds(6) == 3.0
    assert schedule.turn_seconds(60) == 5.0 and schedule.turn_seconds(2) == 1.0
    turns = schedule.Turns(window_start=100.0, turn_s=5.0)
    routes = [turns.route(100.0 + 5 * i + 2.5) for i in range(-2, 8)]
    # two warm-up turns, pooled then direct, then direct, pooled, pooled, direct, ...
    assert routes == [schedule.POOLED, schedule.DIRECT] \
        + [schedule.DIRECT, schedule.POOLED, schedule.POOLED, schedule.DIRECT] * 2
    assert turns.index(99.9) == -1 and turns.index(100.0) == 0 and turns.index(114.99) == 2
    shape = runner.Shape.of(1000, 30, 1000, compare_direct=True)
    assert shape.through_pooler and shape.window_s == 60 and shape.turn_s == 5.0
    assert shape.warmup_s == 10.0 and runner.Shape.of(1000, 30, 1000).warmup_s == 2.0
    # every turn is whole and each side measures --duration: two ABBA groups of 4 s
    assert runner.Shape.of(10, 8, 1000, compare_direct=True).turn_s == 4.0


def test_flows_count_on_one_side_and_time_only_when_whole():
    from billdb.ops.bench import schedule
    from billdb.ops.bench.flow import Recorder, Sides

    recs = [Recorder(window=(0.0, 1e12)), Recorder(window=(0.0, 1e12))]
    sides = Sides([object(), object()], recs, schedule.Turns(0.0, 5.0))  # type: ignore[list-item]
    sides.record(1, "customer_info", 7.0, 0.010)  # turn 1: pooled
    sides.flow_done([(0, 0.01), (0, 0.02)], 1.0)
    sides.flow_done([(0, 0.01), (1, 0.02)], 4.0)  # straddles a turn: counted, not timed
    assert recs[0].flows_total == 2 and recs[0].flows == [pytest.approx(0.03)]
    assert recs[1].latencies["customer_info"] == [0.010] and recs[1].by_turn == {1: [0.010]}
    assert recs[1].statements == 1 and recs[0].statements == 0


def test_each_turn_reports_its_route_and_p99():
    from dataclasses import asdict

    from billdb.ops.bench import compare, runner
    from billdb.ops.bench.flow import Recorder

    def side(by_turn: dict[int, list[float]]) -> dict:
        return asdict(Recorder()) | {"by_turn": by_turn}  # a worker's record, as it sends it

    # two workers' direct turns merge; turn 1 is pooled
    merged = runner._merge([side({0: [0.010] * 99 + [0.500]}), side({0: [0.020], 3: [0.030]})])
    assert len(merged["by_turn"][0]) == 101 and merged["by_turn"][3] == [0.030]
    turns = compare._turns(merged["by_turn"] | {1: [0.040]}, 5.0)
    assert [(t["turn"], t["route"], t["operations"], t["p99_ms"]) for t in turns] == [
        (0, "direct", 101, 20.0), (1, "through PgBouncer", 1, 40.0), (3, "direct", 1, 30.0)]


def test_bench_shape_refuses_more_pods_than_users():
    from billdb.ops.bench import runner

    with pytest.raises(ArgumentError):
        runner.Shape.of(10, 5, 1000, pods=11)
