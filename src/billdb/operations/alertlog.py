"""The alert log the monitoring stack writes (issue 10), read in one place.

Format: JSON lines, one alert state change per line, as billdb's receiver writes them
(billdb.monitoring.receiver.entries): {"status": "firing"|"resolved", "alertname",
"severity", "starts_at": RFC 3339, "ends_at" (0001-01-01... while firing), "fingerprint",
"labels", ...}. Alertmanager's own shapes are read too, for logs brought from elsewhere: a
whole webhook payload per line ({"alerts": [...]}) or one of its alerts ({"startsAt", ...}).
Location: $BILLDB_ALERT_LOG, else <state_dir>/monitoring/alerts.jsonl.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from billdb.errors import BilldbError
from billdb.monitoring import receiver


class AlertLogError(BilldbError):
    """A line of the alert log that is not an alert: bad input, exit 2."""

    exit_code = 2


def path_for(state_dir: Path) -> Path:
    env = os.environ.get("BILLDB_ALERT_LOG")
    return Path(env) if env else state_dir / "monitoring" / "alerts.jsonl"


def parse_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-"):
        return None
    return receiver.parse_ts(value)


def _records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The receiver's records in one line of any of the three shapes."""
    if "alerts" in doc:
        return receiver.entries(doc, datetime.now(UTC))
    if "startsAt" in doc:
        return receiver.entries({"alerts": [doc]}, datetime.now(UTC))
    return [doc]


def read_alerts(path: Path) -> list[dict[str, Any]]:
    """Each alert record: name, severity, status, starts_at, ends_at, fingerprint, labels."""
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out += [_normal(r) for r in _records(json.loads(line))]
        except (ValueError, AttributeError, TypeError, KeyError) as exc:
            raise AlertLogError(f"{path} line {n}: not an alert record ({exc}); an alert "
                                "needs an alertname and status firing|resolved") from None
    return out


def _normal(r: dict[str, Any]) -> dict[str, Any]:
    labels = r.get("labels") or {}
    name = r.get("alertname") or labels["alertname"]
    if r.get("status") not in ("firing", "resolved"):
        raise ValueError(f"status {r.get('status')!r}")
    return {"name": name, "severity": r.get("severity") or "", "status": r["status"],
            "starts_at": parse_time(r.get("starts_at")), "ends_at": parse_time(r.get("ends_at")),
            "fingerprint": r.get("fingerprint") or name, "labels": labels}


def confirmations_path(alert_log: Path) -> Path:
    """Where the receiver records its sev1 confirmations, beside the alert log."""
    return alert_log.with_name("confirmations.jsonl")


def read_confirmations(path: Path) -> dict[tuple[str, datetime | None], dict[str, Any]]:
    """(fingerprint, starts_at) -> the confirmation the receiver made when it was notified."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            doc = json.loads(line)
            key = (doc["fingerprint"], parse_time(doc["starts_at"]))
        except (ValueError, KeyError, TypeError):
            continue  # the receiver writes whole lines; a torn last line is skipped
        out[key] = doc["confirmation"]
    return out
