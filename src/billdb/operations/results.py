"""The shape of audit controls and checklist items, and how a run's verdict is taken."""

from __future__ import annotations

from typing import Any

PASS, WARN, FAIL = "pass", "warn", "fail"


def control(id: str, title: str, reference: str, ok: bool | None, evidence: str) -> dict[str, Any]:
    """One audit control; ok=None means a warning (explained in the evidence)."""
    status = WARN if ok is None else (PASS if ok else FAIL)
    return {"id": id, "title": title, "reference": reference, "status": status,
            "evidence": evidence}


def item(id: str, section: str, status: str, evidence: Any, since: str) -> dict[str, Any]:
    return {"id": id, "section": section, "status": status, "evidence": evidence,
            "since": since}


def worst(statuses: list[str]) -> str:
    if FAIL in statuses:
        return FAIL
    return WARN if WARN in statuses else PASS


def counts(results: list[dict[str, Any]]) -> dict[str, int]:
    out = {PASS: 0, WARN: 0, FAIL: 0}
    for r in results:
        out[r["status"]] += 1
    return out
