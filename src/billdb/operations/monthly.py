"""The monthly checklist (plan §14.1): trends from the stored runs, the cost review, the DR
figures and their age, the security audit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from billdb.context import Context
from billdb.operations import store
from billdb.operations.results import FAIL, PASS, WARN, item
from billdb.ops import journal

S = "§14.1 monthly"
DRILL_MAX_AGE = timedelta(days=31)


def trends(ctx: Context, since: str) -> dict[str, Any]:
    cutoff = datetime.now(UTC) - timedelta(days=30)
    runs = [r for r in store.runs(ctx) if datetime.fromisoformat(r["finished"]) >= cutoff]
    by_item: dict[str, dict[str, int]] = {}
    for r in runs:
        for it in r["items"]:
            by_item.setdefault(it["id"], {"pass": 0, "warn": 0, "fail": 0})[it["status"]] += 1
    samples = store.state(ctx, "capacity").get("samples", [])
    growth = None
    if len(samples) >= 2:
        a, b = samples[0], samples[-1]
        growth = {"db_bytes": b["db_bytes"] - a["db_bytes"],
                  "wal_bytes": b["wal_bytes"] - a["wal_bytes"], "from": a["at"], "to": b["at"]}
    failing = sorted(k for k, v in by_item.items() if v["fail"])
    status = WARN if failing or not runs else PASS
    return item("performance_review", S, status, {
        "runs": len(runs), "by_item": by_item, "failing_items": failing, "growth": growth,
        "source": "stored checklist runs and capacity samples (30 days)"}, since)


def cost_review(ctx: Context, since: str) -> dict[str, Any]:
    from billdb import cost

    est = cost.estimate(ctx.plan)
    budget = est["plan"]["total_monthly"]
    diff = est["difference_monthly"]
    return item("cost_review", S, WARN if est["total_monthly"] > budget else PASS, {
        "estimate_monthly": est["total_monthly"], "reserved_monthly":
        est["total_reserved_monthly"], "plan_budget_monthly": budget, "difference": diff,
        "currency": est["currency"], "prices_as_of": est["prices"]["as_of"],
        "source": "billdb cost (list prices in the plan, not a quote)"}, since)


def last_dr_drill(ctx: Context) -> dict[str, Any] | None:
    """The newest finished `drill dr` in the journal's archive (journal/done/)."""
    done = journal.directory(ctx.layout.state_dir) / "done"
    best = None
    for p in done.glob("*-drill-dr.json") if done.exists() else []:
        doc = json.loads(p.read_text(encoding="utf-8"))
        result = (doc.get("data") or {}).get("result")
        if result and (best is None or doc.get("finished_at", "") > best["at"]):
            best = {"rto_s": result.get("rto_s"), "lost_commits": result.get("lost_commits"),
                    "at": doc.get("finished_at", ""), "journal": str(p)}
    return best


def dr_update(ctx: Context, since: str) -> dict[str, Any]:
    rto_s = ctx.plan.dr.rto_min * 60
    rpo_s = ctx.plan.dr.rpo_min * 60
    drills = store.state(ctx, "drills")
    if (dr := last_dr_drill(ctx)) is not None:
        drills["dr"] = dr
    now = datetime.now(UTC)
    out: dict[str, Any] = {"rto_s": rto_s, "rpo_s": rpo_s}
    status = PASS
    for kind, figure in (("restore", "restore_s"), ("dr", "rto_s")):
        d = drills.get(kind)
        if not d:
            out[kind] = f"no `drill {kind}` recorded"
            status = WARN if status == PASS else status
            continue
        age = now - datetime.fromisoformat(d["at"])
        met = d.get(figure) is not None and d[figure] <= rto_s
        out[kind] = {figure: d.get(figure), "age_days": round(age.total_seconds() / 86400, 1),
                     "rto_met": met, **({"lost_commits": d["lost_commits"]}
                                        if "lost_commits" in d else {})}
        if not met:
            status = FAIL
        elif age > DRILL_MAX_AGE and status == PASS:
            status = WARN
    out["source"] = ("drill restore: figures the weekly checklist and test-plan stored; "
                     "drill dr: its journal in journal/done/ (RPO as lost commits: async "
                     "replication)")
    return item("dr_plan_update", S, status, out, since)


def security_audit(ctx: Context, since: str, today: date) -> dict[str, Any]:
    from billdb.operations import audit

    r = audit.run(ctx, today)
    failed = [c["id"] for c in r["controls"] if c["status"] == "fail"]
    return item("security_audit", S, FAIL if failed else PASS,
                {"controls": r["count"], "summary": r["summary"], "failed": failed,
                 "source": "billdb audit security"}, since)


def run(ctx: Context, since: str, today: date) -> list[dict[str, Any]]:
    return [trends(ctx, since), cost_review(ctx, since), dr_update(ctx, since),
            security_audit(ctx, since, today)]
