"""`billdb checklist daily|weekly|monthly`: run the plan's §14.1 items, store the run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from billdb.context import Context
from billdb.operations import store
from billdb.operations.results import FAIL, counts

PERIOD = {"daily": timedelta(days=1), "weekly": timedelta(days=7), "monthly": timedelta(days=30)}


def run(ctx: Context, kind: str, today: date | None = None, disruptive: bool = False,
        progress=lambda m: None, record: bool = True) -> dict[str, Any]:
    """Run a checklist; `record` stores it (the next run judges from its end). Without it
    nothing is written, so looking twice gives the same verdict."""
    started = datetime.now(UTC)
    today = today or date.today()
    last = store.last_run(ctx, kind)
    since = last["finished"] if last else (started - PERIOD[kind]).isoformat()
    if kind == "daily":
        from billdb.operations import daily

        items = daily.run(ctx, record)
    elif kind == "weekly":
        from billdb.operations import weekly

        items = weekly.run(ctx, since, today, disruptive, progress)
    else:
        from billdb.operations import monthly

        items = monthly.run(ctx, since, today)
    doc = {"kind": kind, "started": started.isoformat(),
           "finished": datetime.now(UTC).isoformat(), "plan_items":
           list(getattr(ctx.plan.operations.checklists, kind)), "items": items,
           "summary": counts(items), "ok": all(i["status"] != FAIL for i in items)}
    doc["stored"] = str(store.save_run(ctx, doc)) if record else None
    return doc


def history(ctx: Context) -> dict[str, Any]:
    return {"runs": [{k: r[k] for k in ("kind", "started", "finished", "summary", "ok")}
                     for r in store.runs(ctx)]}
