"""Facts read from a Markdown plan's tables and prose (Korean or English wording)."""

from __future__ import annotations

import re

from billdb.lint.facts import Fact, Facts
from billdb.lint.markdown import Document, Line

_NUM = r"(\d+(?:\.\d+)?)"
_ROW = r"^\|\s*(?:{})\s*\|\s*"
PATTERNS: dict[str, re.Pattern] = {
    "version": re.compile(_ROW.format(r"PostgreSQL\s*(?:버전|version)") + r"(\d+)", re.I),
    "ram_gb": re.compile(_NUM + r"\s*GB\s*RAM", re.I),
    "pool_size": re.compile(_ROW.format(r"HikariCP Pool Size|pool size") + r"(\d+)", re.I),
    "availability_target": re.compile(_NUM + r"\s*%\s*(?:가용성\s*목표|availability target)",
                                      re.I),
    "sla": re.compile(_ROW.format("SLA") + _NUM + r"\s*%", re.I),
    "promised": re.compile(_NUM + r"\s*%\s*(?:가용성\s*보장|availability guarantee)", re.I),
    "rto_min": re.compile(r"\bRTO\b[^\n|]*?(\d+)\s*(?:분|min)", re.I),
    "rpo_min": re.compile(r"\bRPO\b[^\n|]*?(\d+)\s*(?:분|min)", re.I),
    "pitr_granularity_min": re.compile(r"(?:Point-in-Time|PITR).*?(\d+)\s*(?:분\s*단위|-?minute"
                                       r" (?:granularity|steps))", re.I),
    "failover_s": re.compile(r"(\d+)\s*(?:초|s|seconds?)\s*(?:이내\s*)?(?:자동\s*)?"
                             r"(?:자동\s*장애조치|failover)", re.I),
    "connection_alert": re.compile(_ROW.format(r"연결 수|connections") + r"(\d+)", re.I),
    "backup_retention": re.compile(_ROW.format(r"백업 보존 기간|backup retention") + r"(\d+)",
                                   re.I),
    "backup_time": re.compile(_ROW.format(r"자동 백업 시간|backup time") + r"(\d{1,2}:\d{2})",
                              re.I),
    "geo_backup": re.compile(_ROW.format(r"지리적 중복 백업|geo-redundant backup")
                             + r"(활성화|enabled)", re.I),
    "private_access": re.compile(r"Private Access|VNet 통합|VNet integration", re.I),
    "pooler": re.compile(r"pgbouncer", re.I),
    "azure": re.compile(r"Flexible Server|flexible-server", re.I),
}


def find(doc: Document, key: str) -> list[tuple[Line, str]]:
    out = []
    for ln in doc.prose():
        m = PATTERNS[key].search(ln.text)
        if m:
            out.append((ln, m.group(1) if m.groups() else m.group(0)))
    return out


def first(doc: Document, key: str) -> Fact | None:
    hits = find(doc, key)
    if not hits:
        return None
    ln, value = hits[0]
    return Fact(value, ln.section, ln.number, _where(ln))


def _where(ln: Line) -> str:
    """A table row's first cell, or the start of a prose line, to name a figure's source."""
    text = ln.text.strip()
    if text.startswith("|"):
        return f"{ln.section} {text.strip('|').split('|')[0].strip()}"
    return f"{ln.section}: {text.lstrip('-* ')[:50]}"


def document_facts(doc: Document) -> Facts:
    ram = find(doc, "ram_gb")
    facts = Facts(azure=any(PATTERNS["azure"].search(ln.text) for ln in doc.lines))
    if ram:
        ln, value = ram[0]
        facts.ram_gb = Fact(value, ln.section, ln.number, "server RAM")
        later = [(ln2, v) for ln2, v in ram[1:] if ln2.section != ln.section]
        if later:
            ln2, v = later[0]
            facts.replica_ram_gb = Fact(v, ln2.section, ln2.number, "replica RAM")
    for key in ("pool_size", "availability_target", "sla", "rto_min", "rpo_min",
                "pitr_granularity_min", "failover_s", "connection_alert"):
        setattr(facts, key, first(doc, key))
    facts.promised = [Fact(v, ln.section, ln.number, _where(ln))
                      for ln, v in find(doc, "promised")]
    facts.pooler_mentioned = any(PATTERNS["pooler"].search(ln.text) for ln in doc.lines)
    return facts
