"""Checklist runs kept in <state_dir>/operations/: one JSON file per run, plus the state
the next run continues from (log offsets, error kinds seen, statement snapshots)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from billdb import times
from billdb.context import Context
from billdb.fsutil import write_atomic


def _stored(value: object) -> str | dict[str, Any]:
    """A time as the JSON output writes it (UTC ISO 8601), a row as its fields, anything else
    as its text."""
    if isinstance(value, datetime) and value.tzinfo:
        return times.for_json(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def root(ctx: Context) -> Path:
    return ctx.layout.state_dir / "operations"


def save_run(ctx: Context, run: dict[str, Any]) -> Path:
    d = root(ctx) / "checklist"
    d.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = d / f"{stamp}-{run['kind']}.json"
    write_atomic(path, json.dumps(run, indent=1, default=_stored), 0o600)
    return path


def runs(ctx: Context, kind: str | None = None) -> list[dict[str, Any]]:
    d = root(ctx) / "checklist"
    if not d.exists():
        return []
    out = []
    for p in sorted(d.glob("*.json")):
        doc = json.loads(p.read_text(encoding="utf-8"))
        if kind is None or doc.get("kind") == kind:
            out.append(doc)
    return out


def last_run(ctx: Context, kind: str) -> dict[str, Any] | None:
    found = runs(ctx, kind)
    return found[-1] if found else None


def state(ctx: Context, name: str) -> dict[str, Any]:
    p = root(ctx) / f"{name}.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}


def save_state(ctx: Context, name: str, doc: dict[str, Any]) -> None:
    root(ctx).mkdir(parents=True, exist_ok=True)
    write_atomic(root(ctx) / f"{name}.json", json.dumps(doc, indent=1, default=_stored), 0o600)
