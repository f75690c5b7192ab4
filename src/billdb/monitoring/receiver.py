"""billdb's webhook receiver (a supervised program): Alertmanager POSTs each notification,
firing or resolved, and every alert in it is appended as one JSON line to the alert log.
`billdb alerts` reads that log back: what is firing now and what fired."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from billdb.fsutil import append_line

log = logging.getLogger("billdb.receiver")


def entries(notification: dict[str, Any], received: datetime) -> list[dict[str, Any]]:
    """One log line per alert of an Alertmanager webhook body (version 4)."""
    out = []
    for a in notification.get("alerts", []):
        labels, notes = a.get("labels", {}), a.get("annotations", {})
        out.append({
            "received_at": received.isoformat(), "status": a.get("status"),
            "alertname": labels.get("alertname"), "severity": labels.get("severity"),
            "section": labels.get("section"), "summary": notes.get("summary"),
            "value": notes.get("value"), "starts_at": a.get("startsAt"),
            "ends_at": a.get("endsAt"), "fingerprint": a.get("fingerprint"),
            "labels": labels,
        })
    return out


def append(path: Path, lines: list[dict[str, Any]]) -> None:
    for line in lines:
        append_line(path, json.dumps(line, sort_keys=True), 0o644)


def serve(port: int, path: Path, confirmations: Path | None = None,
          confirm: Callable[[], dict[str, Any]] | None = None) -> None:
    """Serve the webhook. A sev1 that starts firing is confirmed at once (`confirm`, in a
    thread of its own so Alertmanager is answered first) and the answer appended to
    `confirmations`: what billdb found when it was notified."""
    path.parent.mkdir(parents=True, exist_ok=True)
    confirmed: set[tuple] = set()

    def on_lines(lines: list[dict[str, Any]]) -> None:
        for x in lines:
            key = (x["fingerprint"], x["starts_at"])
            if confirm is None or confirmations is None or key in confirmed or \
                    x["status"] != "firing" or x["severity"] != "sev1":
                continue
            confirmed.add(key)
            threading.Thread(target=_confirm, args=(x, confirm, confirmations),
                             daemon=True).start()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def do_POST(self) -> None:
            try:
                size = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(size) or b"{}")
                lines = entries(body, datetime.now(UTC))
            except (ValueError, AttributeError) as exc:
                self.send_response(400)
                self.end_headers()
                log.warning("bad notification: %s", exc)
                return
            append(path, lines)
            log.info("%d alerts (%s)", len(lines), ", ".join(
                f"{x['alertname']} {x['status']}" for x in lines))
            self.send_response(200)
            self.end_headers()
            on_lines(lines)

        def log_message(self, fmt: str, *args: Any) -> None:
            return

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _confirm(alert: dict[str, Any], confirm: Callable[[], dict[str, Any]],
             out: Path) -> None:
    try:
        found = confirm()
    except Exception as exc:  # a failed confirmation is itself the finding
        found = {"error": str(exc)[:300]}
    append(out, [{"fingerprint": alert["fingerprint"], "starts_at": alert["starts_at"],
                  "alertname": alert["alertname"],
                  "confirmed_at": datetime.now(UTC).isoformat(), "confirmation": found}])
    log.info("confirmed %s: %s", alert["alertname"], found)


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def summarize(lines: list[dict[str, Any]], since: datetime | None = None) -> list[dict[str, Any]]:
    """Alerts by fingerprint and start: name, severity, section, value, since, resolved
    (None while firing), first_logged; newest first. `since` keeps those active after it."""
    by: dict[tuple, dict[str, Any]] = {}
    for x in lines:
        key = (x.get("fingerprint"), x.get("starts_at"))
        cur = by.setdefault(key, {"alertname": x["alertname"], "severity": x["severity"],
                                  "section": x["section"], "summary": x["summary"],
                                  "labels": x["labels"], "since": x["starts_at"],
                                  "first_logged": x["received_at"], "resolved": None,
                                  "value": x["value"]})
        if x["status"] == "resolved":
            cur["resolved"] = x["ends_at"]
        else:
            cur["value"] = x["value"]
    out = list(by.values())
    if since is not None:
        out = [a for a in out if a["resolved"] is None or parse_ts(a["resolved"]) >= since]
    for a in out:
        a["firing"] = a["resolved"] is None
    return sorted(out, key=lambda a: a["since"] or "", reverse=True)


def parse_ts(value: str) -> datetime:
    """Alertmanager's RFC 3339 times (nanoseconds trimmed to what fromisoformat takes)."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00")))
