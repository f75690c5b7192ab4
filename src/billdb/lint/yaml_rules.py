"""Findings on a typed YAML plan: version, secrets, budgets, names, Azure, targets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from billdb.lint import azure_network, azure_plan_rules, azure_platform, budgets, credentials, eol
from billdb.lint.catalog import Catalog
from billdb.lint.facts import Fact, Facts
from billdb.lint.findings import Finding
from billdb.plan import budget
from billdb.plan.models import Plan
from billdb.render.parameters import cluster_settings


class Lines:
    """Line numbers of keys in the plan file, for findings that point at them."""

    def __init__(self, path: Path) -> None:
        self.doc = YAML(typ="rt").load(path.read_text(encoding="utf-8"))

    def __call__(self, *keys: str) -> int | None:
        node: Any = self.doc
        line = None
        for key in keys:
            if not isinstance(node, CommentedMap) or key not in node:
                break
            line = node.lc.key(key)[0] + 1
            node = node[key]
        return line


def _seed_section(text: list[str], line: int) -> str:
    """The seed section the plan cites nearest above `line` (its comments say "seed §N")."""
    for n in range(line - 1, -1, -1):
        m = re.search(r"seed (§[\d.]+)", text[n])
        if m:
            return m.group(1).rstrip(".")
    return "§0"


def secrets(path: Path) -> list[Finding]:
    text = path.read_text(encoding="utf-8").splitlines()
    return [Finding("secret.in_plan", "error", _seed_section(text, hit.line),
                    f"{path.name}:{hit.line}: {hit.what} holds a literal credential "
                    f"({hit.kind}); the plan is committed to git", "remove it: billdb generates "
                    "passwords into the environment's 0600 secrets file (SecretStore) and "
                    "references them, never writing one in the plan", hit.line)
            for hit in credentials.scan(list(enumerate(text, 1)))]


def plan_facts(plan: Plan, line: Lines) -> Facts:
    p = plan.parameters
    s51 = "§5.1"
    params = {
        name: Fact(str(getattr(p, name)), s51, line("parameters", name), f"parameters.{name}")
        for name in ("shared_buffers", "work_mem", "maintenance_work_mem", "max_connections")
    }
    return Facts(
        azure=True,
        params=params,
        ram_gb=Fact(plan.server.memory_gb, "§2.1", line("server", "memory_gb"),
                    "server.memory_gb"),
        replica_ram_gb=Fact(plan.read_replica.memory_gb, "§7.1",
                            line("read_replica", "memory_gb"), "read_replica.memory_gb"),
        pool_size=Fact(plan.pool.size, "§5.2", line("pool", "size"), "pool.size"),
        pods=Fact(plan.service.max_pods, "§1.2", line("service", "max_pods"), "service.max_pods"),
        connections=[("prod (Azure): ", budget.plan_connections(plan, "prod")),
                     ("local environment: ", budget.plan_connections(plan, "local"))],
        pooler_section="§5.2",
        availability_target=Fact(plan.service.availability_target_pct, "§1.2",
                                 line("service", "availability_target_pct"),
                                 "service.availability_target_pct"),
        sla=Fact(plan.ha.sla_pct, "§2.2", line("ha", "sla_pct"), "ha.sla_pct"),
        rto_min=Fact(plan.dr.rto_min, "§9.2", line("dr", "rto_min"), "dr.rto_min"),
        rpo_min=Fact(plan.dr.rpo_min, "§9.2", line("dr", "rpo_min"), "dr.rpo_min"),
        pitr_granularity_min=Fact(plan.backup.pitr_granularity_min, "§2.3",
                                  line("backup", "pitr_granularity_min"),
                                  "backup.pitr_granularity_min"),
        archive_timeout_s=Fact(plan.backup.archive_timeout_s, "§9.1",
                               line("backup", "archive_timeout_s"), "backup.archive_timeout_s"),
        failover_s=Fact(plan.ha.failover_target_s, "§2.2", line("ha", "failover_target_s")),
        connection_alert=Fact(plan.monitoring.connections, "§8.1",
                              line("monitoring", "connections"), "monitoring.connections"),
    )


def names(plan: Plan, catalog: Catalog, missing_libs: list[str], line: Lines) -> list[Finding]:
    """Parameter, extension and library names against the target server's own catalog."""
    out = []
    for s in cluster_settings(plan, "prod"):
        if not catalog.known_parameter(s.name):
            hint = catalog.suggest_parameter(s.name)
            out.append(Finding("param.unknown", "error", s.section.split()[0],
                               f"parameter {s.name!r} does not exist in PostgreSQL "
                               f"{catalog.major}", f"use {hint!r}" if hint else
                               "remove it or load the library that defines it"))
    for ext in plan.database.extensions:
        if ext not in catalog.extensions:
            hint = catalog.suggest_extension(ext)
            out.append(Finding("extension.unknown", "error", "§4.1",
                               f"extension {ext!r} is not available on PostgreSQL "
                               f"{catalog.major}", f"use {hint!r}" if hint else
                               "install its package or remove it",
                               line("database", "extensions")))
    for lib in missing_libs:
        out.append(Finding("param.unknown_library", "error", "§5.1",
                           f"shared_preload_libraries names {lib!r}, which is not installed: "
                           "the server would not start", "install it or remove it",
                           line("parameters", "shared_preload_libraries")))
    restart = sorted(s.name for s in cluster_settings(plan, "prod")
                     if catalog.needs_restart(s.name))
    out.append(Finding("param.restart_required", "info", "§5.1",
                       f"{len(restart)} plan parameters take effect only after a restart "
                       f"(pg_settings.context = 'postmaster'): {', '.join(restart)}",
                       "billdb applies them with a rolling restart through Patroni when "
                       "pending_restart is set; on Azure they are 'static' parameters "
                       "(az postgres flexible-server restart)", None, "executed"))
    return out


def _bad(fid: str, sev: str, section: str, msg: str, fix: str, ln: int | None) -> Finding:
    return Finding(fid, sev, section, msg, fix, ln, "data")


def _azure_server(plan: Plan, lim: dict, line: Lines) -> Iterator[Finding]:
    """Storage, backup retention and geo region, HA tier: what the server offers."""
    srv, bk = plan.server, plan.backup
    if srv.storage_gb not in lim["storage_gb"]:
        yield _bad("azure.unsupported_setting", "error", "§2.1",
                   f"server.storage_gb {srv.storage_gb} is not an Azure storage size",
                   f"pick one of {lim['storage_gb']}", line("server", "storage_gb"))
    lo, hi = lim["backup_retention_days"]
    if not lo <= bk.retention_days <= hi:
        yield _bad("azure.unsupported_setting", "error", "§2.3",
                   f"backup.retention_days {bk.retention_days} is outside Azure's {lo}-{hi} "
                   "days", f"use {lo}-{hi} days; keep longer copies as logical dumps",
                   line("backup", "retention_days"))
    pair = lim["paired_regions"].get(srv.region)
    if bk.geo_redundant and pair and bk.geo_region != pair:
        yield _bad("azure.geo_region", "error", "§2.3",
                   f"geo-redundant backups of {srv.region} go to its paired region {pair}, "
                   f"not {bk.geo_region}", f"set backup.geo_region: {pair}",
                   line("backup", "geo_region"))
    if plan.ha.mode != "Disabled" and srv.tier not in lim["ha_tiers"]:
        yield _bad("azure.unsupported_setting", "error", "§2.2",
                   f"high availability is not offered on the {srv.tier} tier",
                   f"use one of {lim['ha_tiers']}", line("server", "tier"))
    if not lim["backup_time_configurable"]:
        yield _bad("azure.backup_time", "warning", "§2.3",
                   f"backup.schedule.daily_at {bk.schedule.daily_at}: Azure chooses the time "
                   "of its automated backups; only the maintenance window can be scheduled",
                   "on Azure, schedule the maintenance window instead; the time applies to "
                   "the local pgBackRest stand-in", line("backup", "schedule"))


def _azure_pooler(plan: Plan, lim: dict, line: Lines) -> Iterator[Finding]:
    """The built-in PgBouncer: its tiers, its parameters, its connection limit."""
    pool, tier = plan.pooler, plan.server.tier
    if not pool.enabled:
        return
    if tier not in lim["pgbouncer_tiers"]:
        yield _bad("azure.unsupported_setting", "error", "§5.2",
                   f"the built-in PgBouncer is not offered on the {tier} tier",
                   f"use one of {lim['pgbouncer_tiers']}", line("server", "tier"))
    if pool.reserve_pool_size:
        yield _bad("azure.unsupported_setting", "warning", "§5.2",
                   f"pooler.reserve_pool_size {pool.reserve_pool_size}: Azure's built-in "
                   "PgBouncer has no such parameter (it offers "
                   f"{', '.join(p.split('.')[1] for p in lim['pgbouncer_parameters'])})",
                   "on Azure, fold the reserve into pgbouncer.default_pool_size; the local "
                   "PgBouncer keeps it", line("pooler", "reserve_pool_size"))
    if pool.max_client_conn > lim["pgbouncer_max_client_conn"]:
        yield _bad("azure.unsupported_setting", "error", "§5.2",
                   f"pooler.max_client_conn {pool.max_client_conn} is above Azure's "
                   f"{lim['pgbouncer_max_client_conn']}", "lower it",
                   line("pooler", "max_client_conn"))


def _azure_parameters(plan: Plan, lim: dict, line: Lines) -> Iterator[Finding]:
    """Server parameters: ranges, allowed libraries, and the ones Azure names differently."""
    lo, hi = lim["max_connections"]
    if not lo <= plan.parameters.max_connections <= hi:
        yield _bad("azure.unsupported_setting", "error", "§5.1",
                   f"max_connections {plan.parameters.max_connections} is outside Azure's "
                   f"{lo}-{hi}", f"use {lo}-{hi}", line("parameters", "max_connections"))
    for lib in plan.parameters.shared_preload_libraries:
        if lib not in lim["shared_preload_libraries"]:
            yield _bad("azure.unsupported_setting", "error", "§5.1",
                       f"shared_preload_libraries {lib!r} is not allowed on Azure",
                       f"Azure allows: {', '.join(lim['shared_preload_libraries'])}",
                       line("parameters", "shared_preload_libraries"))
    if plan.security.ssl_enforced:
        yield _bad("azure.named_differently", "info", "§3.2",
                   "security.ssl_enforced is the server parameter require_secure_transport on "
                   "Azure (ssl itself is read-only there)",
                   "set require_secure_transport=on with az postgres flexible-server "
                   "parameter set", line("security", "ssl_enforced"))
    exts = plan.database.extensions
    yield _bad("azure.named_differently", "info", "§4.1",
               f"extensions {', '.join(exts)} must first be allow-listed in the Azure server "
               f"parameter {lim['extensions_allowlist_parameter']}, and the libraries in "
               "shared_preload_libraries there too",
               f"set azure.extensions={','.join(exts)} before CREATE EXTENSION",
               line("database", "extensions"))


def azure(plan: Plan, line: Lines) -> list[Finding]:
    """What Azure's flexible server does not offer, or names otherwise, in the plan."""
    lim = azure_platform.limits()
    return [*_azure_server(plan, lim, line), *_azure_pooler(plan, lim, line),
            *_azure_parameters(plan, lim, line)]


def lint(plan: Plan, path: Path, catalog: Catalog, missing_libs: list[str],
         today: date) -> list[Finding]:
    line = Lines(path)
    facts = plan_facts(plan, line)
    return [
        *secrets(path),
        *eol.check(plan.server.postgres_version, "§2.1", today,
                   line("server", "postgres_version")),
        *budgets.memory(facts, catalog),
        *budgets.connections(facts, catalog),
        *budgets.targets(facts),
        *names(plan, catalog, missing_libs, line),
        *azure(plan, line),
        *azure_network.findings(plan, line),
        *azure_plan_rules.findings(plan, line),
    ]
