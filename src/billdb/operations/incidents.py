"""Incidents (plan §14.2) opened from the alert log with the alert's severity.

sev1 (service down): notify at once, escalate when still open after escalate_min, recover
within recover_min; billdb confirms whether an automatic failover happened and whether the
write route answers. sev2 (degraded): resolve within resolve_min. sev3: plan within plan_min.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from billdb.plan.models import Plan
from billdb.retry import wait_until

_SEVERITY = {"sev1": 1, "critical": 1, "page": 1, "sev2": 2, "warning": 2, "sev3": 3,
             "info": 3}


def severity(label: str) -> int:
    return _SEVERITY.get(label.lower(), 3)


def targets(plan: Plan) -> dict[int, dict[str, float | None]]:
    inc = plan.operations.incidents
    s1, s2, s3 = inc["severity_1"], inc["severity_2"], inc["severity_3"]
    return {1: {"escalate_min": s1.escalate_min, "target_min": s1.recover_min},
            2: {"escalate_min": None, "target_min": s2.resolve_min},
            3: {"escalate_min": None, "target_min": s3.plan_min}}


def build(plan: Plan, alerts: list[dict[str, Any]], now: datetime | None = None,
          confirm: Callable[[], dict[str, Any]] | None = None,
          confirmed: dict[tuple, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One incident per alert firing (fingerprint + startsAt); resolved by its resolved line.
    A sev1 carries the confirmation the receiver made when notified (`confirmed`, by
    fingerprint and start); an open sev1 without one is confirmed now (`confirm`)."""
    now = now or datetime.now(UTC)
    tg = targets(plan)
    by_key: dict[tuple, dict[str, Any]] = {}
    for a in alerts:
        if a["starts_at"] is None:
            continue
        key = (a["fingerprint"], a["starts_at"])
        inc = by_key.setdefault(key, {"alert": a["name"], "severity": severity(a["severity"]),
                                      "opened": a["starts_at"], "resolved": None,
                                      "confirmation": (confirmed or {}).get(key)})
        if a["status"] == "resolved":
            inc["resolved"] = a["ends_at"] or a["starts_at"]
    out = []
    for inc in sorted(by_key.values(), key=lambda i: i["opened"]):
        t = tg[inc["severity"]]
        end = inc["resolved"] or now
        minutes = (end - inc["opened"]).total_seconds() / 60
        esc = t["escalate_min"]
        escalated = (inc["opened"] + timedelta(minutes=esc)
                     if esc is not None and minutes > esc else None)
        row = {"alert": inc["alert"], "severity": f"sev{inc['severity']}",
               "opened": inc["opened"].isoformat(), "notified": inc["opened"].isoformat(),
               "escalated": escalated.isoformat() if escalated else None,
               "resolved": inc["resolved"].isoformat() if inc["resolved"] else None,
               "duration_min": round(minutes, 2), "target_min": t["target_min"],
               "target_met": minutes <= t["target_min"] if inc["resolved"] else
               (None if minutes <= t["target_min"] else False)}
        if inc["severity"] == 1:
            row["confirmation"] = inc["confirmation"]
            if row["confirmation"] is None and confirm is not None and inc["resolved"] is None:
                row["confirmation"] = confirm()
        out.append(row)
    return out


def report(plan: Plan, alerts: list[dict[str, Any]],
           confirm: Callable[[], dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    """The incidents, and with a sev1 among them the cluster as it is `now` (one check, also
    used for an open sev1 the receiver did not confirm); a row's `confirmation` is the one
    made when it opened, so it can disagree with `now` after a later failover."""
    checked: list[dict[str, Any]] = []

    def once() -> dict[str, Any]:
        if not checked and confirm is not None:
            checked.append(confirm())
        return checked[0] if checked else {}

    rows = build(plan, alerts, confirm=once if confirm else None, **kw)
    now = None
    if confirm is not None and any(r["severity"] == "sev1" for r in rows):
        now = once() | {"checked_at": datetime.now(UTC).isoformat()}
    return {"incidents": rows, "open": sum(1 for r in rows if r["resolved"] is None),
            "missed": sum(1 for r in rows if r["target_met"] is False),
            "ok": all(r["target_met"] is not False for r in rows), "now": now}


def confirm(ctx: Any, patience_s: float = 0) -> dict[str, Any]:
    """For a sev1: who leads now (did Patroni fail over?) and does the write route answer
    (a SELECT 1 as the application role over it), retried for up to `patience_s`."""
    from billdb.engines import postgres
    from billdb.ops import connections
    from billdb.state import cluster

    t0 = time.monotonic()
    route = ""

    def answers() -> bool:
        nonlocal route
        try:
            with postgres.connect(connections.dsn(ctx, "bill_app_user"), what="write route") as c:
                c.execute("SELECT 1")
        except Exception as exc:  # the finding itself
            route = f"does not answer: {exc}"[:200]
            return False
        route = "answers"
        return True

    wait_until(answers, patience_s, 1)
    problem = "no leader"
    try:  # Patroni unreachable is part of the answer
        lead = cluster.observe(ctx).leader
    except Exception as exc:
        lead, problem = None, str(exc)[:200]
    return {"leader": lead.name if lead else problem,
            "timeline": lead.timeline if lead else None, "write_route": route,
            "checked_after_s": round(time.monotonic() - t0, 1)}
