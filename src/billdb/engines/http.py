"""A minimal JSON-over-HTTP helper for the REST APIs of etcd and Patroni (loopback only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class HttpError(Exception):
    def __init__(self, status: int | None, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def request(method: str, url: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
    """Send a request; return (status, decoded JSON or text). Connection errors raise."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        raise HttpError(None, str(getattr(exc, "reason", exc))) from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw
