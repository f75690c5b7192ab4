"""The monitoring stack's Prometheus as a resource, in the converge shape (converge/core.py);
it lives with the satellite it describes, above ops, and verify reaches it through the
registry like the rest of monitoring's checks.

desired: the scrape targets prometheus.yml is written from (`config.scrape_targets`) and the
         alert rules rules.yml is written from (`stack.rendered_alerts`).
observe: Prometheus's /api/v1/targets and /api/v1/rules, reads only.
checks:  `monitoring.prometheus.reachable`, `monitoring.target.<job>.<name>.up` for each
         desired target, `monitoring.rules.loaded` (every rendered rule, by name),
         `monitoring.rules.healthy`.
apply:   up's `monitoring` step (files written, Prometheus reloaded or started).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from billdb.context import Context
from billdb.converge.core import Check
from billdb.engines.http import HttpError, request
from billdb.monitoring import config, stack
from billdb.monitoring.config import ScrapeTarget
from billdb.retry import wait_until

S = "§8 monitoring"


@dataclass(frozen=True)
class Desired:
    targets: list[ScrapeTarget]
    alerts: list[str]  # rule names, one per rule


@dataclass(frozen=True)
class Health:
    """A target's or a rule's health as Prometheus reports it, with its last error."""

    health: str
    error: str

    @property
    def shown(self) -> str:
        return self.health + (f" ({self.error})" if self.error else "")


@dataclass(frozen=True)
class Observed:
    targets: dict[tuple[str, str], Health]  # (job, name) -> health; empty: none listed
    rules: list[tuple[str, Health]]  # (alert name, health), as loaded


def desired(ctx: Context) -> Desired:
    return Desired(config.scrape_targets(ctx.local),
                   [a.name for a in stack.rendered_alerts(ctx)])


def get(url: str) -> tuple[int | None, Any]:
    """(HTTP status, JSON body) of a GET; (None, the error) when nothing answers."""
    try:
        return request("GET", url, timeout=5)
    except HttpError as exc:
        return None, str(exc)


def _targets(base: str) -> list[dict]:
    status, body = get(f"{base}/api/v1/targets?state=active")
    return body["data"]["activeTargets"] if status == 200 else []


def observe(port: int) -> Observed:
    base = f"http://127.0.0.1:{port}"
    # A target is "unknown" until its first scrape (~5 s after Prometheus is ready).
    wait_until(lambda: (t := _targets(base)) and all(x["health"] != "unknown" for x in t), 20)
    targets = {}
    for t in _targets(base):
        labels = t["labels"]
        who = labels.get("member") or labels.get("instance_name") or labels["instance"]
        targets[(labels["job"], who)] = Health(t["health"], t.get("lastError") or "")
    status, body = get(f"{base}/api/v1/rules?type=alert")
    groups = body["data"]["groups"] if status == 200 else []
    rules = [(r["name"], Health(r.get("health", ""), r.get("lastError") or ""))
             for g in groups for r in g["rules"]]
    return Observed(targets, rules)


def checks(want: Desired, found: Observed) -> list[Check]:
    out = [Check("monitoring.prometheus.reachable", S, "targets listed",
                 f"{len(found.targets)} targets", bool(found.targets))]
    for t in want.targets if found.targets else ():
        have = found.targets.get((t.job, t.name))
        out.append(Check(f"monitoring.target.{t.job}.{t.name}.up", S, "up",
                         have.shown if have else "not scraped", have is not None
                         and have.health == "up"))
    missing = sorted((Counter(want.alerts) - Counter(n for n, _ in found.rules)).elements())
    loaded = len(found.rules)
    out.append(Check("monitoring.rules.loaded", S, len(want.alerts),
                     loaded if not missing else f"{loaded} (missing: {', '.join(missing)})",
                     loaded == len(want.alerts) and not missing))
    bad = [f"{n}: {h.error or None}" for n, h in found.rules if h.health != "ok"]
    out.append(Check("monitoring.rules.healthy", S, "every rule evaluates",
                     "; ".join(bad) or "every rule evaluates", not bad))
    return out
