"""`billdb pgbench`: the plan's §13.2 test (pgbench -i -s 10; 50 clients, 2 threads) and the same
load with the service's own statements, in a scratch database, never the service's.

The custom script is generated from the repository's .sql files (the statements
`billdb bench` runs), with pgbench variables bound where the service binds parameters, so
the two benchmarks run the same SQL and their statement rates can be compared.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from billdb_client import sql as client_sql
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.client.crypto import FieldCipher, context
from billdb.context import Context
from billdb.engines import postgres, process
from billdb.errors import BilldbError
from billdb.fsutil import write_atomic
from billdb.internal import SUPERUSER
from billdb.ops.bench.flow import BENCH_LINE_BASE, bill_for, months
from billdb.state import cluster

SCRATCH_DB = "billdb_pgbench"
PGBENCH = "pgbench"
# The statements of one service flow, in the order `billdb bench` runs them.
FLOW_STATEMENTS = ("customer_get", "request_create", "kos_record", "request_complete",
                   "request_get", "history_page", "cache_get", "cache_put")
# Parameters the flow passes as NULL, and those pgbench computes from other variables.
NULL_PARAMS = {"status", "since", "until", "before_time", "before_id", "error_detail"}
EXPRESSIONS = {"bill_request_id": ":request_id"}
_last_cpu = {"s": 0.0}  # CPU seconds of the last pgbench run (the client's own cost)
_PARAM_RE = re.compile(r"%\((\w+)\)s")


def to_pgbench(statement: str) -> str:
    """A repository statement with its psycopg placeholders turned into pgbench variables."""
    body = "\n".join(line for line in statement.splitlines()
                     if not line.lstrip().startswith("--")).strip()

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in NULL_PARAMS:
            return "NULL"
        return EXPRESSIONS.get(name, f":{name}")

    body = _PARAM_RE.sub(sub, body)
    return body if body.endswith(";") else body + ";"


def flow_script() -> str:
    parts = [sqlfiles.load("bench/pgbench_flow_header").strip()]
    parts += [to_pgbench(client_sql.load(name)) for name in FLOW_STATEMENTS]
    return "\n".join(parts) + "\n"


def _uri(ctx: Context, dbname: str) -> str:
    zones = [m.port for m in ctx.members if m.kind == "zone"]
    return postgres.uri(ctx.layout, user=SUPERUSER, dbname=dbname, ports=zones,
                        target_session_attrs="read-write")


def create_scratch(ctx: Context, with_schema: bool, lines: int) -> None:
    """A fresh scratch database (the plan's locale), with the service schema if asked."""
    if ctx.plan.database.name == SCRATCH_DB:
        raise BilldbError("the pgbench scratch database must not be the service database")
    d = ctx.plan.database
    with cluster.admin_connect(ctx) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(SCRATCH_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING {} LC_COLLATE {} LC_CTYPE {} "
                             "TEMPLATE template0").format(
            sql.Identifier(SCRATCH_DB), sql.Literal(d.encoding), sql.Literal(d.lc_collate),
            sql.Literal(d.lc_ctype)))
        conn.execute(sql.SQL("ALTER DATABASE {} SET timezone TO {}").format(
            sql.Identifier(SCRATCH_DB), sql.Literal(d.timezone)))
    if not with_schema:
        return
    with postgres.connect(_uri(ctx, SCRATCH_DB), autocommit=False, what="scratch") as conn:
        conn.execute("SET search_path = public")
        for _, _, text in sqlfiles.migrations():
            conn.execute(text)
        cipher = FieldCipher.from_secrets_file(ctx.layout.secrets_file)
        with conn.cursor() as cur:
            cur.executemany(client_sql.load("customer_put"), [
                {"customer_id": f"bench-c{i}", "line_number": str(BENCH_LINE_BASE + i),
                 "customer_name": cipher.seal_text("벤치 고객", context(
                     "customer_info.customer_name", f"bench-c{i}")),
                 "status": "ACTIVE", "operator_code": "KT"} for i in range(lines)])
        conn.commit()


def drop_scratch(ctx: Context) -> None:
    with cluster.admin_connect(ctx) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(SCRATCH_DB)))


def parse(output: str) -> dict[str, Any]:
    def num(pattern: str) -> float | None:
        m = re.search(pattern, output)
        return float(m.group(1)) if m else None

    return {"tps": num(r"tps = ([0-9.]+) \(without initial connection time\)"),
            "latency_avg_ms": num(r"latency average = ([0-9.]+) ms"),
            "transactions": int(num(r"transactions actually processed: (\d+)") or 0),
            "failed": int(num(r"number of failed transactions: (\d+)") or 0)}


def _pgbench(args: list[str], timeout: float) -> str:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = process.run([PGBENCH, *args], check=False, timeout=timeout, step="pgbench")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _last_cpu["s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise BilldbError(f"pgbench exited {res.returncode}: {' | '.join(tail)}")
    return res.stdout


def builtin(ctx: Context, scale: int, clients: int, jobs: int, duration_s: int) -> dict[str, Any]:
    """The plan's §13.2: pgbench -i -s SCALE, then TPC-B-like with CLIENTS for DURATION."""
    create_scratch(ctx, with_schema=False, lines=0)
    uri = _uri(ctx, SCRATCH_DB)
    t0 = time.monotonic()
    _pgbench(["-i", "-q", "-s", str(scale), uri], timeout=600)
    init_s = time.monotonic() - t0
    out = parse(_pgbench(["-n", "-c", str(clients), "-j", str(jobs), "-T", str(duration_s),
                          uri], timeout=duration_s + 120))
    return {"script": "builtin tpcb-like", "scale": scale, "clients": clients, "jobs": jobs,
            "duration_s": duration_s, "init_s": round(init_s, 1), **out,
            "statements_per_transaction": 7,
            "sps": round(out["tps"] * 7, 1) if out["tps"] else None}


def service(ctx: Context, clients: int, jobs: int, duration_s: int,
            lines: int) -> dict[str, Any]:
    """The service's flow statements under pgbench (same SQL as `billdb bench`)."""
    create_scratch(ctx, with_schema=True, lines=lines)
    cipher = FieldCipher.from_secrets_file(ctx.layout.secrets_file)
    month = months(dt.date.today())[0]
    bill = bill_for(str(BENCH_LINE_BASE), month, random.Random(1))
    now = dt.datetime.now(dt.UTC).isoformat()
    variables = {
        "lines": str(lines), "users": str(clients), "inquiry_month": month,
        "request_time": now, "response_time": now, "result_code": "0000",
        "result_message": "OK", "kos_data_json": '{"elapsed_ms":120,"attempt":1}',
        "retry_count": "0", "circuit_breaker_state": "CLOSED", "page_size": "20",
        "result_summary": f"{bill['total']} KRW",
        "bill_info_json": cipher.seal_json(bill, context("bill_inquiry_history.bill_info_json",
                                                         "pgbench")),
    }
    with tempfile.TemporaryDirectory(prefix="billdb-pgbench-") as tmp:
        script = Path(tmp) / "service_flow.sql"
        write_atomic(script, flow_script(), 0o644)
        args = ["-n", "-M", "prepared", "-f", str(script), "-c", str(clients), "-j", str(jobs),
                "-T", str(duration_s)]
        for k, v in variables.items():
            args += ["-D", f"{k}={v}"]
        out = parse(_pgbench([*args, _uri(ctx, SCRATCH_DB)], timeout=duration_s + 120))
    n = len(FLOW_STATEMENTS)
    return {"script": "service flow (" + ", ".join(FLOW_STATEMENTS) + ")", "clients": clients,
            "jobs": jobs, "duration_s": duration_s, **out, "statements_per_transaction": n,
            "client_cpu_s": round(_last_cpu["s"], 2),
            "sps": round(out["tps"] * n, 1) if out["tps"] else None}


def run(ctx: Context, duration_s: int | None = None, which: str = "both",
        progress: Callable[[str], None] = lambda m: None, keep: bool = False) -> dict[str, Any]:
    t = ctx.plan.tests.pgbench
    duration = duration_s or t.duration_s
    report: dict[str, Any] = {"database": SCRATCH_DB}
    try:
        if which in ("both", "builtin"):
            progress(f"pgbench -i -s {t.scale}, then {t.clients} clients for {duration} s")
            report["builtin"] = builtin(ctx, t.scale, t.clients, t.jobs, duration)
        if which in ("both", "service"):
            progress(f"service statements: {t.clients} clients for {duration} s")
            report["service"] = service(ctx, t.clients, t.jobs, duration, lines=1000)
    finally:
        if not keep:
            drop_scratch(ctx)
    runs = [v for k, v in report.items() if isinstance(v, dict)]
    report["ok"] = all(r["tps"] and r["failed"] == 0 for r in runs)
    return report
