"""Budget and target rules on plan facts: memory, connections, availability, RPO.

The budgets themselves are counted by billdb.plan.budget, the model `verify` and `up` use.
"""

from __future__ import annotations

from billdb.lint.catalog import Catalog
from billdb.lint.facts import Fact, Facts, gib
from billdb.lint.findings import Finding
from billdb.plan import budget as model
from billdb.plan.types import server_size_bytes

MONTH_MIN = 30 * 24 * 60


def _param(facts: Facts, catalog: Catalog, name: str) -> tuple[float | None, Fact | None]:
    fact = facts.params.get(name)
    setting = catalog.settings.get(name)
    unit = setting.unit if setting else None
    if fact is None:
        if setting is None or setting.boot_val is None:
            return None, None
        return server_size_bytes(setting.boot_val, unit), None
    return server_size_bytes(str(fact.value), unit), fact


def memory(facts: Facts, catalog: Catalog) -> list[Finding]:
    if facts.ram_gb is None:
        return []
    sb, sb_fact = _param(facts, catalog, "shared_buffers")
    wm, wm_fact = _param(facts, catalog, "work_mem")
    mwm, _ = _param(facts, catalog, "maintenance_work_mem")
    conns, mc_fact = _param(facts, catalog, "max_connections")
    workers, _ = _param(facts, catalog, "autovacuum_max_workers")
    if None in (sb, wm, mwm, conns, workers):
        return []
    m = model.Memory(int(sb), int(wm), int(mwm), int(conns), int(workers),
                     int(facts.ram_gb.num * 1024**3))
    section = (wm_fact or sb_fact or mc_fact or facts.ram_gb).section
    line = (wm_fact or sb_fact or mc_fact).line if (wm_fact or sb_fact or mc_fact) else None
    detail = (f"shared_buffers {gib(sb)} + max_connections {int(conns)} × work_mem "
              f"{wm / 1024**2:.0f}MB ({gib(m.per_connection)}) + autovacuum_max_workers "
              f"{int(workers)} × maintenance_work_mem {gib(mwm)} = {gib(m.total)}")
    out = []
    ram_src = f"{facts.ram_gb.num:g} GB of RAM ({facts.ram_gb.section})"
    if m.over:
        out.append(Finding(
            "budget.memory", "error", section,
            f"{detail} exceeds the server's {ram_src}: every connection sorting at once "
            "drives the server out of memory", f"lower work_mem to at most "
            f"{m.work_mem_fit_mb()}MB (or max_connections, with a pooler in front) so the sum "
            f"stays under {model.TIGHT:.0%} of RAM", line))
    elif m.tight:
        out.append(Finding(
            "budget.memory_tight", "warning", section,
            f"{detail} is {m.total / m.ram:.0%} of the server's {ram_src}, leaving little for "
            "the OS and its page cache", "keep the worst case under 80% of RAM: lower work_mem "
            "or max_connections", line))
    if facts.replica_ram_gb and m.total > facts.replica_ram_gb.num * 1024**3:
        out.append(Finding(
            "budget.replica_memory", "warning", facts.replica_ram_gb.section,
            f"the read replica has {facts.replica_ram_gb.num:g} GB of RAM but runs the "
            f"primary's parameters ({gib(m.total)} worst case); promoted in a region failure "
            "it would carry the whole load", "scale the replica to the primary's size when "
            "promoting it (or size it like the primary), or give it its own memory settings",
            facts.replica_ram_gb.line))
    return out


def _document_connections(facts: Facts, catalog: Catalog, max_conn: int) -> model.Connections:
    """A document's figures: one pool per pod (the seed's HikariCP), no pooler numbers."""
    if facts.azure:
        reserved, label = model.AZURE_RESERVED, "Azure reserved (replication, monitoring)"
    else:
        s = catalog.settings.get("superuser_reserved_connections")
        reserved = int(s.boot_val) if s and s.boot_val else model.SUPERUSER_RESERVED
        label = "superuser reserved"
    return model.Connections(int(facts.pods.num), int(facts.pool_size.num), max_conn, None,
                             has_replica=False, reserved=reserved, reserved_label=label,
                             client_pools=1, primary_pools=1, client_label="pool")


def _finding(b: model.Budget, c: model.Connections, where: str, facts: Facts,
             mc: Fact) -> Finding:
    pods_src = f"{c.pods} pods ({facts.pods.where or facts.pods.section})"
    fit = model.max_pods(c)
    if b.name == "pooler_clients":
        return Finding(
            "budget.pooler_clients", "error", facts.pooler_section or facts.pool_size.section,
            f"{where}{pods_src}: {b.describe()}", f"raise pooler.max_client_conn to at least "
            f"{b.total} or keep service.max_pods at most {fit}", facts.pods.line)
    if c.pooler is None:
        fix = ("put a transaction pooler in front (Azure's built-in PgBouncer, port 6432) or "
               f"cap the pods at {fit} (service.max_pods)")
        return Finding("budget.connections", "error", facts.pool_size.section,
                       f"{where}{b.name}: {b.describe()} ({mc.section}): pods beyond the "
                       "budget fail to connect", fix, facts.pool_size.line)
    return Finding("budget.connections", "error", facts.pooler_section or "§5.2",
                   f"{where}{b.name}: {b.describe()}", "lower pooler.default_pool_size/"
                   "reserve_pool_size or raise parameters.max_connections")


def connections(facts: Facts, catalog: Catalog) -> list[Finding]:
    mc = facts.params.get("max_connections")
    if mc is None or facts.pool_size is None:
        return []
    max_conn = int(mc.num)
    out: list[Finding] = []
    if facts.pods is None:
        return [Finding("budget.connections_unknown", "info", facts.pool_size.section,
                        "the number of application pods is not stated, so pods × pool size "
                        "cannot be checked against max_connections",
                        "state the maximum pod count next to the pool size",
                        facts.pool_size.line)]
    targets_ = facts.connections
    if not targets_:
        if facts.pooler_mentioned:
            targets_ = []
        else:
            targets_ = [("", _document_connections(facts, catalog, max_conn))]
    seen: set[tuple[str, str]] = set()
    for where, c in targets_:
        for b in model.connection_budgets(c):
            fid = "budget.pooler_clients" if b.name == "pooler_clients" else "budget.connections"
            if not b.ok and (fid, b.name) not in seen:
                seen.add((fid, b.name))
                out.append(_finding(b, c, where, facts, mc))
    if facts.connection_alert and facts.connection_alert.num >= max_conn:
        out.append(Finding(
            "targets.connection_alert", "error", facts.connection_alert.section,
            f"the connection alert fires at {facts.connection_alert.num:g}, at or above "
            f"max_connections {max_conn}: it can never fire before clients are refused",
            f"alert at about 90% of max_connections ({int(max_conn * 0.9)})",
            facts.connection_alert.line))
    return out


def _allowance(pct: float) -> float:
    return (1 - pct / 100) * MONTH_MIN


def targets(facts: Facts) -> list[Finding]:
    out: list[Finding] = []
    rto = facts.rto_min
    target = facts.availability_target
    if target and facts.sla and target.num > facts.sla.num:
        out.append(Finding(
            "targets.availability", "warning", target.section,
            f"the service target {target.num:g}% ({target.section}) is above the platform "
            f"SLA {facts.sla.num:g}% ({facts.sla.section})",
            "lower the target or choose an HA mode whose SLA covers it", target.line))
    if rto:
        for promise in [*([target] if target else []), *([facts.sla] if facts.sla else []),
                        *facts.promised]:
            allowed = _allowance(promise.num)
            if rto.num > allowed:
                out.append(Finding(
                    "targets.availability", "warning", promise.section,
                    f"{promise.num:g}% availability ({promise.where or promise.section}) "
                    f"allows {allowed:.1f} min of downtime a month, but one incident at the "
                    f"RTO of {rto.num:g} min ({rto.section}) spends {rto.num / allowed:.0f}× "
                    "that", f"state {promise.num:g}% only for what it covers (Azure's SLA for "
                    f"the server), and promise the service {target.num:g}% or less"
                    if target and target.num < promise.num else
                    "lower the availability figure or the RTO so that they agree",
                    promise.line))
    if facts.failover_s and rto and facts.failover_s.num > rto.num * 60:
        out.append(Finding(
            "targets.failover", "error", facts.failover_s.section,
            f"automatic failover takes up to {facts.failover_s.num:g} s, longer than the RTO "
            f"of {rto.num:g} min", "lower the failover time or raise the RTO",
            facts.failover_s.line))
    rpo = facts.rpo_min
    if rpo and facts.pitr_granularity_min and facts.pitr_granularity_min.num >= rpo.num:
        g = facts.pitr_granularity_min
        out.append(Finding(
            "targets.rpo", "warning", g.section,
            f"point-in-time restore at {g.num:g}-minute steps ({g.section}) can miss up to "
            f"{g.num:g} min of data before the WAL not yet archived is counted, which already "
            f"uses the whole RPO of {rpo.num:g} min ({rpo.section})",
            "restore to an exact time or transaction (PostgreSQL's PITR is not limited to "
            "steps) and keep the WAL archive interval well under the RPO", g.line))
    if rpo and facts.archive_timeout_s and facts.archive_timeout_s.num >= rpo.num * 60:
        a = facts.archive_timeout_s
        out.append(Finding(
            "targets.rpo", "error", a.section,
            f"WAL is archived only every {a.num:g} s, which alone exceeds the RPO of "
            f"{rpo.num:g} min", f"set archive_timeout well under {rpo.num * 60:g} s", a.line))
    return out
