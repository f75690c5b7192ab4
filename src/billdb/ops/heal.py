"""Re-clone a member that cannot rejoin (Patroni's reinit), never leave it waiting.

Patroni already removes a data directory that pg_rewind cannot repair or whose timeline
diverged (remove_data_directory_on_rewind_failure / _on_diverged_timelines) and clones it
again; and every member's restore_command fetches from the archive the WAL the primary no
longer keeps. What remains is a member that runs but does not stream after waiting (its WAL
gone from both): `up` reinitialises it from the primary through Patroni's REST API
(POST /reinitialize), says why, and appends a record to <state_dir>/heal.jsonl first.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from billdb.context import Context
from billdb.engines.http import HttpError, request
from billdb.errors import StepError
from billdb.fsutil import append_line
from billdb.retry import wait_until
from billdb.state import cluster

STUCK_AFTER_S = 45


def _settled(ctx: Context, name: str) -> bool:
    m = cluster.observe(ctx).member(name)
    return m is not None and m.settled


def record(ctx: Context, member: str, why: str) -> None:
    """Written before the reinit runs, so an interrupted `up` still leaves its reason."""
    line = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "member": member,
            "action": "reinit", "why": why}
    append_line(ctx.layout.state_dir / "heal.jsonl", json.dumps(line))


def reinit(ctx: Context, name: str, why: str, timeout: float = 300) -> None:
    """Patroni re-clones `name` from the primary; waits until it streams again."""
    m = ctx.member(name)
    record(ctx, name, why)
    try:
        status, body = request("POST", f"http://127.0.0.1:{m.rest_port}/reinitialize",
                               {"force": True}, timeout=10)
    except HttpError as exc:
        raise StepError(f"member {name}", f"reinit refused: {exc}") from None
    if status != 200:
        raise StepError(f"member {name}", f"reinit refused ({status}): {body}")
    wait_until(lambda: not _settled(ctx, name), 15, 0.2)  # the reinit began
    if not wait_until(lambda: _settled(ctx, name), timeout, 1.0):
        raise StepError(f"member {name}", f"not streaming {timeout:.0f} s after reinit",
                        str(ctx.layout.member(name).log))


def ensure_rejoined(ctx: Context, wait_s: float = STUCK_AFTER_S) -> tuple[bool, str]:
    """The `rejoin` step of `up`: every standby streams, or is re-cloned."""
    lead = cluster.leader_name(ctx)
    if lead is None:
        return False, "no leader: nothing to clone from"
    others = [m.name for m in ctx.members if m.name != lead]
    wait_until(lambda: all(_settled(ctx, n) for n in others), wait_s, 1.0)
    state = cluster.observe(ctx)
    stuck = [m for n in others if (m := state.member(n)) is not None and not m.settled]
    for m in stuck:
        lag = "unknown" if m.lag_bytes is None else f"{m.lag_bytes} bytes"
        reinit(ctx, m.name, f"{m.state} (not streaming) {wait_s:.0f} s into `up`, lag {lag}")
    if stuck:
        return True, f"re-cloned {', '.join(m.name for m in stuck)} from {lead} (see heal.jsonl)"
    return False, "all standbys streaming"
