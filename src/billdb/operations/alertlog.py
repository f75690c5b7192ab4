"""The alert log the monitoring stack writes (issue 10), read in one place.

Format: JSON lines, one alert state change per line, as Alertmanager's webhook payload
carries each alert: {"status": "firing"|"resolved", "labels": {"alertname", "severity", ...},
"annotations": {...}, "startsAt": RFC 3339, "endsAt": RFC 3339 (0001-01-01... while firing),
"fingerprint"}. A whole webhook payload per line ({"alerts": [...]}) is read too.
Location: $BILLDB_ALERT_LOG, else <state_dir>/monitoring/alerts.jsonl.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from billdb.errors import BilldbError


class AlertLogError(BilldbError):
    """A line of the alert log that is not an alert: bad input, exit 2."""

    exit_code = 2


def path_for(state_dir: Path) -> Path:
    env = os.environ.get("BILLDB_ALERT_LOG")
    return Path(env) if env else state_dir / "monitoring" / "alerts.jsonl"


def parse_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-"):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def read_alerts(path: Path) -> list[dict[str, Any]]:
    """Each alert record: name, severity, status, starts_at, ends_at, fingerprint."""
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise AlertLogError(f"{path} line {n}: not JSON ({exc})") from None
        for a in doc.get("alerts", [doc]):
            labels = a.get("labels") or {}
            if "alertname" not in labels or a.get("status") not in ("firing", "resolved"):
                raise AlertLogError(f"{path} line {n}: an alert needs labels.alertname and "
                                  "status firing|resolved")
            out.append({"name": labels["alertname"], "severity": labels.get("severity", ""),
                        "status": a["status"], "starts_at": parse_time(a.get("startsAt")),
                        "ends_at": parse_time(a.get("endsAt")),
                        "fingerprint": a.get("fingerprint") or labels["alertname"],
                        "labels": labels})
    return out
