"""The plan document read against Microsoft's documentation for the platform (§2-§11).

Each rule names the page it comes from (MicrosoftDocs/azure-databases-docs,
articles/postgresql/flexible-server/<page>.md, published under
learn.microsoft.com/azure/postgresql/flexible-server/<page>; the storage page from Azure
Storage's documentation) and what billdb does instead (docs/departures.md, docs/azure.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from billdb.lint.findings import Finding
from billdb.lint.markdown import Document, Line

DOCS = "learn.microsoft.com/azure/postgresql/flexible-server/"
_VCPU = re.compile(r"Standard_[A-Z]+(\d+)[a-z]*_v\d")
_DOLLARS = re.compile(r"\$(\d[\d,]*)")


def _in(doc: Document, section: str, *words: str) -> list[Line]:
    return [ln for ln in doc.lines if ln.section.startswith(section)
            and all(w.lower() in ln.text.lower() for w in words)]


def _anywhere(doc: Document, *patterns: str) -> bool:
    return any(re.search(p, ln.text, re.I) for ln in doc.lines for p in patterns)


def _f(fid: str, sev: str, ln: Line, msg: str, fix: str, page: str) -> Finding:
    cite = page if page.startswith("learn.") else DOCS + page
    return Finding(fid, sev, ln.section, f"line {ln.number}: {msg} [Microsoft: {cite}]", fix,
                   ln.number, "data")


def replica_compute(doc: Document) -> list[Finding]:
    main = [int(m.group(1)) for ln in _in(doc, "§2.1", "Standard_")
            if (m := _VCPU.search(ln.text))]
    rep = [(ln, int(m.group(1))) for ln in _in(doc, "§7.1", "Standard_")
           if (m := _VCPU.search(ln.text))]
    if not main or not rep or rep[0][1] >= main[0]:
        return []
    return [_f("azure.replica_compute", "error", rep[0][0], f"the replica has {rep[0][1]} vCores "
               f"and the primary {main[0]}: Azure requires a replica's compute to be at least "
               "the primary's, and after a region-failure promotion (§9.2) it carries "
               "production at half the capacity", "make the replica as large as the primary "
               "(billdb: read_replica Standard_D4s_v3)", "concepts-read-replicas")]


def vnet_peering(doc: Document) -> list[Finding]:
    region = _in(doc, "§7.1", "Korea South")
    if not region or not _anywhere(doc, r"VNet 통합|VNet integration") or _anywhere(
            doc, r"peering|피어링"):
        return []
    return [_f("azure.vnet_peering", "error", region[0], "a VNet-integrated replica in another "
               "region lives in another VNet: replication between the two servers and the §7.2 "
               "read route from AKS need the VNets peered, both ways, and the document has no "
               "peering", "peer phonebill-vnet and the Korea South VNet both ways (billdb "
               "does: peering.db, peering.replica)", "concepts-networking-private")]


def nsg_for_aks_only(doc: Document) -> list[Finding]:
    rule = _in(doc, "§3.2", "AKS")
    if not rule or not _anywhere(doc, r"VNet 통합|VNet integration"):
        return []
    return [_f("azure.nsg_for_aks_only", "error", rule[0], "'only the AKS subnet' as a firewall "
               "rule: a VNet-integrated server has no firewall rules, so nothing enforces it",
               "a network security group on the database subnets: 5432 from the AKS subnet "
               "and the peer database subnet, other sources denied (billdb: nsg.db, "
               "nsg.replica)", "concepts-networking-private")]


def failover_time(doc: Document) -> list[Finding]:
    lines = _in(doc, "§2.2", "60초")
    if not lines:
        return []
    return [_f("azure.failover_time", "warning", lines[0], "automatic failover 'within 60 s': "
               "Microsoft documents 60-120 s for zone-redundant HA failover", "state 60-120 s "
               "(billdb's local drill measures its own stand-in)",
               "concepts-business-continuity")]


def reserved_compute_only(doc: Document) -> list[Finding]:
    rows = _in(doc, "§11.1", "$")
    compute = sum(int(m.group(1).replace(",", "")) for ln in rows if "Standard_" in ln.text
                  and (m := _DOLLARS.search(ln.text)))
    total = next((ln for ln in rows if "Reserved" in ln.text and "총" in ln.text), None)
    pct = next((int(m.group(1)) for ln in rows if (m := re.search(r"(\d+)%", ln.text))), None)
    if not (compute and total and pct):
        return []
    amounts = [int(a.replace(",", "")) for a in _DOLLARS.findall(total.text)]
    if len(amounts) < 2:
        return []
    whole, reserved = amounts[0], amounts[-1]
    right = whole - compute * pct / 100
    if abs(reserved - right) < 1:
        return []
    return [_f("azure.reserved_compute_only", "error", total, f"${reserved} takes {pct} % off "
               f"the whole ${whole}; a reservation covers compute only (${compute} here): "
               f"{whole} - {pct} % x {compute} = ${right:.0f}", f"${right:.0f} with a 1-year "
               "reservation (billdb cost: total_reserved_monthly)", "concepts-reserved-pricing")]


def rpo_alert(doc: Document) -> list[Finding]:
    rpo = [ln for ln in doc.lines if "RPO" in ln.text and re.search(r"\d+\s*분", ln.text)]
    if not rpo or _in(doc, "§8.1", "복제"):
        return []
    return [_f("azure.rpo_alert", "warning", rpo[0], "the RPO has no alert in §8.1; "
               "physical_replication_delay_in_seconds is the time since the last replayed "
               "transaction and passes any threshold while the primary is idle", "alert on "
               "physical_replication_delay_in_bytes (on the primary) at RPO x the peak WAL "
               "rate (billdb: 300 MB)", "concepts-monitoring")]


def at_or_above(doc: Document) -> list[Finding]:
    rows = _in(doc, "§8.1", "이상")
    if not rows:
        return []
    return [_f("azure.alert_operator", "info", rows[0], "thresholds say 이상 (at or above): an "
               "Azure metric alert with GreaterThan would not fire at the threshold itself",
               "operator GreaterThanOrEqual (billdb's alerts use it)", "how-to-alert-on-metrics")]


def logs_kept(doc: Document) -> list[Finding]:
    lines = [ln for ln in doc.lines if ln.section.startswith(("§8.2", "§10.3"))]
    if not lines or _anywhere(doc, r"Log Analytics|진단 설정|diagnostic setting"):
        return []
    return [_f("azure.logs_retained", "warning", lines[0], "the slow-query and audit logs the "
               "reviews (§8.2, §10.3, §14.1) read stay on the server, which keeps log files for "
               "days only", "a Log Analytics workspace and a diagnostic setting with the "
               "PostgreSQL log categories (billdb: logs.workspace, logs.diagnostic.*)",
               "concepts-logging")]


def dump_path(doc: Document) -> list[Finding]:
    rows = _in(doc, "§9.1", "Blob")
    if not rows:
        return []
    return [_f("azure.dump_network_path", "warning", rows[0], "weekly logical dumps to Blob "
               "storage: a private deployment has no public network to the account, and nothing "
               "in the document runs the dump", "a private endpoint for blob with "
               "privatelink.blob.core.windows.net (billdb: dumps.*), and a scheduled runner "
               "next to the service", "learn.microsoft.com/azure/storage/common/"
               "storage-private-endpoints")]


def identity_principal(doc: Document) -> list[Finding]:
    rows = _in(doc, "§3.3", "관리형 ID")
    rows = [ln for ln in rows if "identity" in ln.text] or rows
    if not rows or _anywhere(doc, r"pgaadauth_create_principal"):
        return []
    return [_f("azure.identity_principal", "warning", rows[-1], "the service's managed identity "
               "never becomes a database role: nothing creates it", "as the Entra "
               "administrator, pgaadauth_create_principal for the identity, then grant it the "
               "application role (billdb: sql.entra_principal)",
               "concepts-azure-ad-authentication")]


RULES: list[Callable[[Document], list[Finding]]] = [
    replica_compute, vnet_peering, nsg_for_aks_only, failover_time, reserved_compute_only,
    rpo_alert, at_or_above, logs_kept, dump_path, identity_principal]


def findings(doc: Document) -> list[Finding]:
    return [f for rule in RULES for f in rule(doc)]
