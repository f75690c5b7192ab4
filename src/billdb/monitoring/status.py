"""`billdb status`'s monitoring section: where to look (the URLs) and how many alerts fire."""

from __future__ import annotations

from typing import Any

from billdb.context import Context
from billdb.monitoring import config, receiver, stack


def section(ctx: Context) -> dict[str, Any] | None:
    mon = ctx.local.monitoring
    if mon is None:
        return None
    firing = [a["alertname"] for a in receiver.summarize(receiver.read(stack.alert_log(ctx)))
              if a["firing"]]
    return {"prometheus_url": f"http://127.0.0.1:{mon.prometheus_port}/",
            "alerts_url": f"http://127.0.0.1:{mon.prometheus_port}/alerts",
            "alertmanager_url": f"http://127.0.0.1:{mon.alertmanager_port}/api/v2/alerts",
            "receiver_url": config.receiver_url(ctx.local),
            "alert_log": str(stack.alert_log(ctx)), "firing": firing}
