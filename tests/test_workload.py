"""The Bill-Inquiry workload against the real environment: repository with column encryption
and key rotation, monthly partitions and retention, PgBouncer, the connection budget, and the
benchmark's smoke test."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid

import psycopg
import pytest

from billdb.client import BillDB, ClientConfig
from billdb.client.crypto import DecryptionError, FieldCipher
from billdb.client.repository import BillRepository, KosCall
from conftest import PORT_BASE, Env, write_plan

BILL = {"total": 45000, "items": [{"name": "기본료", "amount": 33000}], "currency": "KRW"}


def _repo_run(env: Env, fn, through_pooler: bool = False):
    async def main():
        cfg = ClientConfig.from_plan(env.plan, through_pooler=through_pooler)
        async with BillDB(cfg) as db:
            repo = BillRepository(db, FieldCipher.from_secrets_file(
                env.state_dir / "secrets" / "secrets.json"))
            try:
                return await fn(repo, db)
            finally:
                await repo.close()
    return asyncio.run(main())


def _admin(env: Env) -> psycopg.Connection:
    dsn = env.dsn("admin").replace("/postgres?", "/bill_inquiry_db?")
    return psycopg.connect(dsn, autocommit=True)


def _json(env: Env, *args: str, check: bool = True) -> tuple[int, dict]:
    res = env.run(*args, "--json", check=check)
    return res.returncode, json.loads(res.stdout)


def test_encrypted_columns_round_trip_and_rotation(env: Env):
    rid, line, cid = str(uuid.uuid4()), f"0109{uuid.uuid4().int % 10**7:07d}", f"t-{uuid.uuid4()}"

    async def write(repo: BillRepository, db: BillDB):
        await repo.put_customer(cid, line, "홍길동", "KT")
        t = await repo.create_request(rid, "t-user", line, "2026-10")
        await repo.record_kos_call(KosCall(rid, line, "2026-10", t, t, "0000", "OK", {"ms": 5}))
        assert await repo.complete_request(rid, "t-user", BILL, "45000 KRW")
        await repo.put_cached_bill(line, "2026-10", BILL, "t-user")
        got = await repo.get_request(rid, "t-user")  # read-your-writes
        assert got.status == "COMPLETED" and got.bill_info == BILL
        assert (await repo.get_customer(line)).name == "홍길동"
        assert (await repo.get_cached_bill(line, "2026-10", "t-user")).bill_info == BILL
        assert await repo.flush_cache_hits() == 1  # the hit, counted in a batch

    _repo_run(env, write)
    with _admin(env) as conn:  # what an administrator sees with psql: ciphertext only
        name = conn.execute("SELECT customer_name FROM customer_info WHERE customer_id = %s",
                            [cid]).fetchone()[0]
        bill = conn.execute("SELECT bill_info_json FROM bill_inquiry_history "
                            "WHERE request_id = %s", [rid]).fetchone()[0]
        cached, hits = conn.execute("SELECT bill_info_json, access_count FROM bill_info_cache "
                                    "WHERE line_number = %s", [line]).fetchone()
        assert hits == 2  # filled once, hit once
        for value in (name, bill, cached):
            assert value.startswith("v1:k") and "홍길동" not in value and "45000" not in value
        with pytest.raises(psycopg.errors.CheckViolation):  # the server refuses clear text
            conn.execute("UPDATE customer_info SET customer_name = '홍길동' "
                         "WHERE customer_id = %s", [cid])
        # A ciphertext moved to another row does not open there.
        conn.execute("UPDATE bill_info_cache SET bill_info_json = %s WHERE line_number = %s",
                     [bill, line])
    async def moved(repo: BillRepository, db: BillDB):
        for _ in range(50):  # the cache is read on the replica: wait for it to replay
            await repo.get_cached_bill(line, "2026-10")
            await asyncio.sleep(0.1)

    with pytest.raises(DecryptionError):
        _repo_run(env, moved)
    with _admin(env) as conn:
        conn.execute("DELETE FROM bill_info_cache WHERE line_number = %s", [line])
    old_key = _json(env, "keys", "status")[1]["active_key"]

    code, rotated = _json(env, "keys", "rotate", "--batch", "2")
    assert code == 0 and rotated["ok"] and rotated["new_key"] != old_key
    assert rotated["reencrypted"]["customer_info.customer_name"] >= 1
    assert all(n == 0 for n in rotated["remaining_under_old_keys"].values())
    assert old_key not in json.dumps(rotated["values_by_key"])

    async def read_back(repo: BillRepository, db: BillDB):
        assert (await repo.get_customer(line)).name == "홍길동"
        assert (await repo.get_request(rid)).bill_info == BILL
        rid2 = str(uuid.uuid4())  # a row written after the rotation
        await repo.create_request(rid2, "t-user", line, None)
        await repo.complete_request(rid2, "t-user", {"n": 2}, None)
        assert (await repo.get_request(rid2, "t-user")).bill_info == {"n": 2}
        page = await repo.history([line], page_size=1)
        assert page.rows[0].request_id == rid2 and page.cursor is not None
        older = await repo.history([line], page_size=1, cursor=page.cursor)
        assert older.rows[0].request_id == rid
        assert (await repo.history([line, "no-such-line"], status="COMPLETED")).rows
        await db.execute("DELETE FROM bill_inquiry_history WHERE user_id = 't-user'")
        await db.execute("DELETE FROM bill_info_cache WHERE line_number = %s", [line])
        await db.execute("DELETE FROM customer_info WHERE customer_id = %s", [cid])

    _repo_run(env, read_back)
    code, status = _json(env, "keys", "status")
    assert code == 0 and all(n == 0 for n in status["under_old_keys"].values())


def test_request_id_unique_across_months_and_kos_foreign_key(env: Env):
    with _admin(env) as conn:
        conn.execute("SET ROLE bill_owner")
        conn.execute("SELECT ensure_monthly_partitions('bill_inquiry_history', "
                     "now() - interval '40 days', 3)")
        conn.execute("INSERT INTO bill_inquiry_history (request_id, user_id, line_number) "
                     "VALUES ('t-dup', 't-u', '1')")
        try:
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute("INSERT INTO bill_inquiry_history (request_id, user_id, "
                             "line_number, request_time) VALUES ('t-dup', 't-u', '1', "
                             "now() - interval '40 days')")
            with pytest.raises(psycopg.errors.ForeignKeyViolation):
                conn.execute("INSERT INTO kos_inquiry_history (bill_request_id, line_number) "
                             "VALUES ('t-none', '1')")
            conn.execute("INSERT INTO kos_inquiry_history (bill_request_id, line_number) "
                         "VALUES ('t-dup', '1')")
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
                conn.execute("UPDATE bill_inquiry_history SET request_time = now() - "
                             "interval '40 days' WHERE request_id = 't-dup'")
        finally:
            conn.execute("DELETE FROM bill_inquiry_history WHERE request_id = 't-dup'")
        assert conn.execute("SELECT count(*) FROM kos_inquiry_history "
                            "WHERE bill_request_id = 't-dup'").fetchone()[0] == 0  # cascaded


def test_multiplexed_writes_share_commits_but_fail_alone(env: Env):
    """Concurrent single statements ride shared batches (one round trip and one commit each);
    a duplicate among them fails alone with its own error, every other statement commits, and
    each writer's read-your-writes still holds."""
    tag = f"t-mux-{uuid.uuid4().hex[:8]}"
    ids = [f"{tag}-{i}" for i in range(120)]

    async def burst(repo: BillRepository, db: BillDB):
        calls = [repo.create_request(rid, f"{tag}-u{i}", "01000000000", "2026-10")
                 for i, rid in enumerate(ids)]
        calls.insert(60, repo.create_request(ids[0], f"{tag}-dup", "01000000000", "2026-10"))
        results = await asyncio.gather(*calls, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        assert len(failed) == 1 and isinstance(failed[0], psycopg.errors.UniqueViolation)
        write = db.multiplexing()["write"]
        assert write["statements"] == len(calls) and write["largest"] > 1
        assert write["batches"] < write["statements"]  # commits were shared
        for i in (5, 77, 119):  # read-your-writes after a shared commit
            got = await repo.get_request(ids[i], f"{tag}-u{i}")
            assert got is not None and got.status == "PROCESSING"

    try:
        _repo_run(env, burst)
        with _admin(env) as conn:
            rows = conn.execute("SELECT count(*), count(DISTINCT request_id) FROM "
                                "bill_inquiry_history WHERE request_id LIKE %s",
                                [f"{tag}-%"]).fetchone()
            assert rows == (len(ids), len(ids))
    finally:
        with _admin(env) as conn:
            conn.execute("DELETE FROM bill_inquiry_history WHERE request_id LIKE %s",
                         [f"{tag}-%"])


def test_every_client_call_ends_by_its_deadline(env: Env):
    """A statement the server takes longer to answer than the profile allows ends in
    DeadlineExceeded naming what it waited for, on every public call (multiplexed write and
    read, a write transaction, run_read); the client keeps serving afterwards."""
    from billdb.client import DeadlineExceeded

    async def main() -> list[tuple[str, DeadlineExceeded, float]]:
        cfg = ClientConfig.from_plan(env.plan, connection_timeout_s=2, statement_timeout_s=1)
        out = []
        async with BillDB(cfg) as db:
            async def tx() -> None:
                async with db.write() as conn:
                    await conn.execute("SELECT pg_sleep(10)")

            async def read(conn: psycopg.AsyncConnection) -> None:
                await conn.execute("SELECT pg_sleep(10)")

            for name, call in (("execute", db.execute("SELECT pg_sleep(10)")),
                               ("fetch", db.fetch("SELECT pg_sleep(10)", route="write")),
                               ("write", tx()), ("run_read", db.run_read(read))):
                t0 = time.monotonic()
                with pytest.raises(DeadlineExceeded) as info:
                    await call
                out.append((name, info.value, time.monotonic() - t0))
            assert (await db.fetch("SELECT 1", route="write")) == [(1,)]
        return out

    results = asyncio.run(main())
    for name, err, took in results:
        assert took < 3 + 1, (name, took)  # connection 2 s + statement 1 s, plus a margin
        assert err.waiting_for, name
    by = {name: err for name, err, _ in results}
    assert by["execute"].outcome_unknown and "answer" in by["execute"].waiting_for
    assert not by["write"].outcome_unknown and "statements" in by["write"].waiting_for


def test_partitions_exist_for_this_month_and_next(env: Env):
    rows = _json(env, "partitions", "list")[1]["partitions"]
    today = dt.date.today()
    nxt = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    for table in ("bill_inquiry_history", "kos_inquiry_history"):
        names = {r["partition"] for r in rows if r["table"] == table}
        assert f"{table}_{today:%Y_%m}" in names and f"{table}_{nxt:%Y_%m}" in names
        assert {r["owner"] for r in rows if r["table"] == table} == {"bill_owner"}


def test_retention_job_drops_rows_older_than_the_retention(env: Env):
    with _admin(env) as conn:
        conn.execute("SET ROLE bill_owner")
        for table in ("bill_inquiry_history", "kos_inquiry_history"):
            conn.execute("SELECT ensure_monthly_partitions(%s, now() - interval '800 days', 3)",
                         [table])
        conn.execute("INSERT INTO bill_inquiry_history (request_id, user_id, line_number, "
                     "request_time) VALUES ('t-old', 't-ret', '1', now() - interval '800 days'), "
                     "('t-edge', 't-ret', '1', now() - interval '731 days'), "
                     "('t-keep', 't-ret', '1', now() - interval '700 days')")
        conn.execute("INSERT INTO kos_inquiry_history (bill_request_id, line_number, "
                     "request_time) VALUES ('t-keep', '1', now() - interval '400 days'), "
                     "('t-keep', '1', now() - interval '300 days')")
    code, report = _json(env, "partitions", "retention")
    assert code == 0
    assert report["bill_inquiry_history"]["retention_days"] == 730
    assert report["bill_inquiry_history"]["dropped_partitions"]
    with _admin(env) as conn:
        left = {r[0] for r in conn.execute(
            "SELECT request_id FROM bill_inquiry_history WHERE user_id = 't-ret'")}
        kos = conn.execute("SELECT count(*) FROM kos_inquiry_history "
                           "WHERE bill_request_id = 't-keep'").fetchone()[0]
        registry = conn.execute("SELECT count(*) FROM bill_request_ids "
                                "WHERE request_id IN ('t-old', 't-edge')").fetchone()[0]
        conn.execute("DELETE FROM bill_inquiry_history WHERE user_id = 't-ret'")
    assert left == {"t-keep"} and kos == 1 and registry == 0
    _, checks = _json(env, "verify", check=False)
    part = {c["id"]: c for c in checks["checks"]
            if c["id"].startswith(("partitions.", "budget.", "encryption.", "pooler."))}
    assert len(part) > 15 and all(c["ok"] for c in part.values()), part


def test_pooler_tls_and_routing(env: Env):
    code, report = _json(env, "pooler", "status")
    assert code == 0 and report["ok"]
    assert report["bill_inquiry_db"]["server_tls"] and not report["bill_inquiry_db"]["in_recovery"]
    assert report["bill_inquiry_db_read"]["in_recovery"]

    async def through(repo: BillRepository, db: BillDB):
        rid = str(uuid.uuid4())
        await repo.create_request(rid, "t-pool", "01000000000", None)
        got = await repo.get_request(rid, "t-pool")
        await db.execute("DELETE FROM bill_inquiry_history WHERE user_id = 't-pool'")
        return got, await db.served_by("write")

    got, port = _repo_run(env, through, through_pooler=True)
    assert got is not None and port == report["primary_port"]
    plain = env.dsn("bill_app_user").split("@")[0] + f"@127.0.0.1:{PORT_BASE + 2}/bill_inquiry_db"
    with pytest.raises(psycopg.OperationalError, match="SSL required"):
        psycopg.connect(plain + "?sslmode=disable", connect_timeout=5)


def _pooler_stats(env: Env) -> dict[str, int]:
    from billdb.state import pooler

    ctx = env.context()
    console = pooler.conninfo(ctx, "pgbouncer", user=ctx.plan.read_replica.read_user)
    with psycopg.connect(console, autocommit=True, prepare_threshold=None) as conn:
        cur = conn.execute("SHOW STATS")
        names = [d.name for d in cur.description]
        return next(dict(zip(names, r, strict=True)) for r in cur.fetchall()
                    if r[0] == "bill_inquiry_db")


def test_pooler_keeps_each_clients_prepared_statements(env: Env):
    """Two clients prepare different statements under the same names (psycopg names them
    _pg3_0, _pg3_1, ... per connection) and take turns, a transaction each, on the pooler's
    server connections. A PgBouncer without max_prepared_statements passes the names through,
    so the second client's prepare fails (the name exists on that server connection) or runs
    the other's statement; this one renames and re-prepares them per server connection."""
    from billdb.state import pooler

    conninfo = pooler.conninfo(env.context(), "bill_inquiry_db")
    before = _pooler_stats(env)
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=0) as a, \
            psycopg.connect(conninfo, autocommit=True, prepare_threshold=0) as b:
        for i in range(25):
            assert a.execute("SELECT %s::int + 1", [i]).fetchone()[0] == i + 1
            assert b.execute("SELECT %s::text || 'b'", [str(i)]).fetchone()[0] == f"{i}b"
            assert b.execute("SELECT %s::int * 3", [i]).fetchone()[0] == 3 * i
    after = _pooler_stats(env)
    binds = after["total_bind_count"] - before["total_bind_count"]
    parses = after["total_server_parse_count"] - before["total_server_parse_count"]
    client = after["total_client_parse_count"] - before["total_client_parse_count"]
    assert client == 3 and binds >= 75, (client, binds)
    # each statement prepared once per server connection that ran it, not once per execution
    assert 3 <= parses <= 15, parses


def test_pooler_follows_the_primary_after_a_switchover(env: Env):
    before = _json(env, "pooler", "status")[1]["primary_port"]
    env.run("switchover", "--json")
    after = None
    for _ in range(40):
        code, report = _json(env, "pooler", "status", check=False)
        after = report.get("bill_inquiry_db", {}).get("server_port")
        if code == 0 and after != before:
            break
        time.sleep(0.5)
    assert after is not None and after != before and report["primary_port"] == after


def test_verify_fails_the_connection_budget_when_pods_grow(env: Env, tmp_path):
    crowded = write_plan(tmp_path / "crowded.yaml", env.state_dir, PORT_BASE,
                         mutate=lambda d: d["service"].update(max_pods=150))
    res = Env(crowded, env.state_dir).run("verify", "--json", check=False)
    report = json.loads(res.stdout)
    failed = [c["id"] for c in report["checks"] if not c["ok"]]
    assert res.returncode == 1 and failed == ["budget.pooler_clients"], failed
    actual = next(c["actual"] for c in report["checks"] if c["id"] == "budget.pooler_clients")
    assert "150 pods x 15 x 3 pools" in actual and "> pooler.max_client_conn 2000" in actual


def test_bench_through_the_pooler_in_turns_with_the_direct_route(env: Env):
    res = env.run("bench", "--users", "40", "--duration", "6", "--through-pooler",
                  "--compare-direct", "--json", timeout=300)
    report = json.loads(res.stdout)
    assert report["errors"] == 0 and report["direct"]["errors"] == 0
    assert report["machine"]["client"]["through_pooler"] is True
    # 6 s on each side: four turns of 3 s, direct, pooled, pooled, direct
    turns = report["turns"]
    assert [t["route"] for t in turns] == ["direct", "through PgBouncer",
                                           "through PgBouncer", "direct"], turns
    assert all(t["operations"] > 0 and t["seconds"] == 3.0 for t in turns), turns
    by_route = {r: sum(t["operations"] for t in turns if t["route"] == r)
                for r in ("direct", "through PgBouncer")}
    assert by_route["through PgBouncer"] == sum(o["count"] for o in report["operations"].values())
    assert report["p99_ratio_to_direct"] == round(report["p99_ms"] / report["direct"]["p99_ms"],
                                                  2)
    assert "in turns of 3 s" in res.stderr
    assert report["median_turn_p99_ratio"] > 0
    stats = report["pooler"]["stats"]["bill_inquiry_db"]
    assert stats["transactions"] > 0, stats
    # PgBouncer's prepared-statement counts are reported (test_pooler_keeps_each_clients_...
    # proves the keeping; how many a short run prepares depends on psycopg's prepare_threshold
    # of 5 executions per connection): every parse, the client's or a server's, precedes a bind
    assert stats["binds"] >= max(stats["client_parses"], stats["server_parses"]) >= 0, stats
    gc = report["machine"]["client"]["gc"]
    assert set(gc) == {"collections", "pause_ms", "longest_ms"}
    bad = env.run("bench", "--users", "5", "--duration", "1", "--compare-direct", check=False)
    assert bad.returncode == 2 and "add --through-pooler" in bad.stderr


def test_bench_smoke_50_users_10_seconds(env: Env):
    res = env.run("bench", "--users", "50", "--duration", "10", "--json", timeout=300)
    report = json.loads(res.stdout)
    assert set(report) >= {"users", "duration_s", "flows", "tps", "p50_ms", "p95_ms", "p99_ms",
                           "errors", "operations", "machine"}
    assert report["users"] == 50 and report["errors"] == 0 and report["flows"] > 0
    assert report["stuck"] == 0
    assert report["p50_ms"] <= report["p95_ms"] <= report["p99_ms"]
    for op in ("customer_info", "create_request", "record_kos", "complete_request",
               "poll_request", "history_page", "cache_get"):
        assert report["operations"][op]["count"] > 0, op
    assert report["machine"]["cpus"] and "bench" in res.stderr  # the progress lines
    with _admin(env) as conn:  # the benchmark removed its rows
        assert conn.execute("SELECT count(*) FROM bill_inquiry_history "
                            "WHERE user_id LIKE 'bench-u%'").fetchone()[0] == 0


def test_bench_cuts_off_a_stuck_user_and_fails(env: Env):
    """The watchdog: a user that never ends (injected) is cut off at the window's end plus
    the grace, reported as stuck, counted as an error, and the bench exits 1."""
    t0 = time.monotonic()
    res = env.run("bench", "--users", "4", "--duration", "2", "--think-ms", "100",
                  "--grace", "3", "--inject-stuck", "1", "--json", check=False, timeout=120)
    took = time.monotonic() - t0
    report = json.loads(res.stdout)
    assert res.returncode == 1 and report["stuck"] == 1 and report["errors"] >= 1
    assert report["stuck_in"] == {"outside an operation": 1}
    assert report["flows"] > 0  # the other users ran
    # warm-up 2 s + 2 s + grace 3 s, plus start-up (seeding, pools) and clean-up
    assert took < 2 + 2 + 3 + 30, took
