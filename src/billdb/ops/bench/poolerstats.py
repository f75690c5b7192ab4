"""PgBouncer's own view of a bench run through the pooler: does anyone wait for a server
connection (SHOW POOLS cl_waiting / maxwait), how busy the server side is (sv_active), and
how long a transaction spends in the pooler and whether the clients' prepared statements were
kept (SHOW STATS deltas over the run). Sampled once a second from the admin console as the
plan's stats user (the read role)."""

from __future__ import annotations

import threading
from typing import Any

from billdb.context import Context
from billdb.state import pooler


class PoolerSampler:
    """Start before the measured window, `stop()` after it: the figures of the run."""

    def __init__(self, ctx: Context, interval_s: float = 1.0) -> None:
        self._ctx = ctx
        self._interval = interval_s
        self._stop = threading.Event()
        self._samples: list[list[dict[str, Any]]] = []
        self._stats0: dict[str, dict[str, Any]] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> PoolerSampler:
        self._stats0 = {r["database"]: r for r in pooler.console(self._ctx, "SHOW STATS")}
        self._thread.start()
        return self

    def _loop(self) -> None:
        with pooler.console_connect(self._ctx) as conn:
            while not self._stop.wait(self._interval):
                self._samples.append([p for p in pooler.show(conn, "SHOW POOLS")
                                      if p["database"] != "pgbouncer"])

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=10)
        stats1 = {r["database"]: r for r in pooler.console(self._ctx, "SHOW STATS")}
        pools: dict[str, dict[str, float]] = {}
        for sample in self._samples:
            for p in sample:
                agg = pools.setdefault(f"{p['database']}/{p['user']}", {
                    "max_cl_waiting": 0, "max_maxwait_ms": 0.0, "max_sv_active": 0})
                agg["max_cl_waiting"] = max(agg["max_cl_waiting"], int(p["cl_waiting"]))
                wait_ms = int(p["maxwait"]) * 1000 + int(p.get("maxwait_us", 0)) / 1000
                agg["max_maxwait_ms"] = max(agg["max_maxwait_ms"], round(wait_ms, 1))
                agg["max_sv_active"] = max(agg["max_sv_active"], int(p["sv_active"]))
        return {"samples": len(self._samples), "pools": pools, "stats": {
            db: _delta(self._stats0.get(db), s1) for db, s1 in stats1.items() if db != "pgbouncer"}}


def _delta(s0: dict[str, Any] | None, s1: dict[str, Any]) -> dict[str, Any]:
    """Per-transaction figures over the run (SHOW STATS totals are in microseconds)."""
    def d(key: str) -> int:
        return int(s1[key]) - int((s0 or {}).get(key, 0))

    xacts = d("total_xact_count")
    out: dict[str, Any] = {
        "transactions": xacts, "queries": d("total_query_count"),
        "avg_xact_ms": round(d("total_xact_time") / xacts / 1000, 2) if xacts else None,
        "avg_wait_ms": round(d("total_wait_time") / xacts / 1000, 2) if xacts else None}
    if "total_bind_count" in s1:  # PgBouncer 1.21+: prepared statements kept for the clients
        # named statements the clients prepared, how often PgBouncer had to prepare one on a
        # server connection, and the executions bound to them: binds per server parse is
        # what the servers were spared planning
        out.update(client_parses=d("total_client_parse_count"),
                   server_parses=d("total_server_parse_count"), binds=d("total_bind_count"))
    return out
