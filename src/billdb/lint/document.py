"""Findings on a Markdown plan document: run its SQL, read its shell, check its figures."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from billdb.lint import (
    azure_cli,
    azure_create,
    azure_rules,
    budgets,
    credentials,
    docfacts,
    eol,
    shell,
    sqlsplit,
)
from billdb.lint import statements as st
from billdb.lint.catalog import Catalog
from billdb.lint.facts import Fact
from billdb.lint.findings import Finding
from billdb.lint.markdown import Block, Document
from billdb.lint.sqlrun import Expected, Outcome, Runner
from billdb.lint.sqlsplit import Statement
from billdb.plan.models import Plan

SQL_LANGS = {"sql", "psql", "postgresql", "postgres", "pgsql", "plpgsql"}
SHELL_LANGS = {"bash", "sh", "shell", "console", "zsh"}
# Columns renamed by PostgreSQL releases, for the fix of an "undefined column" error.
_RENAMED = {
    "total_time": "total_exec_time (pg_stat_statements, renamed in PostgreSQL 13)",
    "mean_time": "mean_exec_time (pg_stat_statements, renamed in PostgreSQL 13)",
    "min_time": "min_exec_time (pg_stat_statements, renamed in PostgreSQL 13)",
    "max_time": "max_exec_time (pg_stat_statements, renamed in PostgreSQL 13)",
    "stddev_time": "stddev_exec_time (pg_stat_statements, renamed in PostgreSQL 13)",
    "tablename": "relname (pg_stat_user_tables/pg_stat_user_indexes; indexrelname for "
                 "the index)",
    "indexname": "indexrelname (pg_stat_user_indexes)",
}


@dataclass
class SqlItem:
    stmt: Statement
    section: str
    block: int


@dataclass
class SchemaStep:
    line: int
    section: str
    role: str | None
    database: str | None


@dataclass
class Parsed:
    sql: list[SqlItem] = field(default_factory=list)
    schema_steps: list[SchemaStep] = field(default_factory=list)
    commands: list[tuple[str, shell.Command]] = field(default_factory=list)


def parse_blocks(doc: Document) -> Parsed:
    out = Parsed()
    for index, block in enumerate(doc.blocks):
        if block.lang in SQL_LANGS:
            out.sql += [SqlItem(s, block.section, index)
                        for s in sqlsplit.split(block.text, block.first_line)]
        elif block.lang in SHELL_LANGS or (block.lang == "" and "az " in block.text):
            _, commands = shell.parse(block.text, block.first_line)
            for cmd in commands:
                out.commands.append((block.section, cmd))
                if cmd.argv[0] == "psql" and shell.option_value(cmd.argv, "-f", "--file"):
                    out.schema_steps.append(SchemaStep(
                        cmd.line, block.section, shell.option_value(cmd.argv, "-U", "--username"),
                        shell.option_value(cmd.argv, "-d", "--dbname")))
    return out


def _blocks_by_index(doc: Document) -> dict[int, Block]:
    return dict(enumerate(doc.blocks))


class DocumentLint:
    def __init__(self, doc: Document, plan: Plan | None, catalog: Catalog, today: date) -> None:
        self.doc, self.plan, self.catalog, self.today = doc, plan, catalog, today
        self.parsed = parse_blocks(doc)
        self.facts = docfacts.document_facts(doc)
        self.findings: list[Finding] = []
        # Static name findings by line, to merge with the server's error for that line.
        self.by_line: dict[object, int] = {}

    def add(self, f: Finding, merge_key: int | None = None) -> None:
        if merge_key is not None:
            self.by_line[merge_key] = len(self.findings)
        self.findings.append(f)

    # --- roles ---------------------------------------------------------------------------
    def app_roles(self) -> set[str]:
        roles = set()
        for item in self.parsed.sql:
            g = st.grant_all_in_schema(item.stmt.text)
            if g and re.search(r"\b(INSERT|UPDATE|DELETE)\b", g.privileges, re.I):
                roles.update(g.roles)
        if self.plan:
            roles.update(r for r, g in self.plan.roles.login.items()
                         if {"insert", "update", "delete"} & set(g.tables))
        return roles

    # --- static checks -------------------------------------------------------------------
    def credentials(self) -> None:
        for hit in credentials.scan([(ln.number, ln.text) for ln in self.doc.lines]):
            section = self.doc.lines[hit.line - 1].section
            what = hit.what if hit.what == hit.kind else f"{hit.what} ({hit.kind})"
            self.add(Finding(
                "doc.credential", "error", section,
                f"line {hit.line}: {what} is a literal credential; everyone who copies the "
                "document uses (and leaks) the same password",
                "generate it at install time and read it from a secret store (Key Vault, "
                "a 0600 file, PGPASSFILE); write `PASSWORD :'pw'` with psql variables or "
                "`--admin-password \"$(az keyvault secret show ...)\"`", hit.line))

    def settings(self) -> None:
        blocks = _blocks_by_index(self.doc)
        postmaster: dict[int, list[tuple[str, int]]] = {}
        alter_blocks: dict[int, int] = {}
        for item in self.parsed.sql:
            setp = st.alter_system(item.stmt.text)
            line = item.stmt.line
            if setp:
                alter_blocks.setdefault(item.block, line)
                if not item.stmt.commented:
                    self.facts.params[setp.name] = Fact(setp.value, item.section, line, setp.name)
                if not self.catalog.known_parameter(setp.name):
                    hint = self.catalog.suggest_parameter(setp.name)
                    self.add(Finding(
                        "param.unknown", "error", item.section,
                        f"line {line}: parameter {setp.name!r} does not exist in PostgreSQL "
                        f"{self.catalog.major}" + (" (commented out, to run when needed)"
                                                   if item.stmt.commented else ""),
                        f"use {hint!r}" if hint else "remove it", line, "executed"), line)
                elif self.catalog.needs_restart(setp.name):
                    postmaster.setdefault(item.block, []).append((setp.name, line))
                if setp.name == "log_statement" and setp.value.lower() == "all":
                    self.add(Finding(
                        "param.log_statement_all", "warning", item.section,
                        f"line {line}: log_statement = 'all' writes every statement to the "
                        "log, including ALTER ROLE ... PASSWORD in clear text and all customer "
                        "data in literals, on top of the audit trail",
                        "keep log_statement = 'none' (or 'ddl') and audit with pgaudit.log = "
                        "'write, ddl'", line))
            if st.reloads_config(item.stmt.text) and postmaster.get(item.block):
                names = postmaster[item.block]
                self.add(Finding(
                    "param.restart_with_reload", "error", item.section,
                    f"line {line}: pg_reload_conf() does not apply "
                    f"{', '.join(n for n, _ in names)} (pg_settings.context = 'postmaster' on "
                    f"PostgreSQL {self.catalog.major}): they stay at their old values until a "
                    "restart", "restart the server after setting them (Azure: az postgres "
                    "flexible-server restart; Patroni: patronictl restart) and check "
                    "pg_settings.pending_restart is false", line), ("reload", line))
        if self.facts.azure:
            for block, line in alter_blocks.items():
                self.add(Finding(
                    "azure.alter_system", "error", blocks[block].section,
                    f"line {line}: ALTER SYSTEM is not allowed on Azure Database for PostgreSQL "
                    "flexible server (the administrator is not a superuser)",
                    "set server parameters with `az postgres flexible-server parameter set "
                    "--name NAME --value VALUE` (static ones then need `az postgres "
                    "flexible-server restart`)", line, "data"))

    def extensions(self) -> None:
        first_line = None
        for item in self.parsed.sql:
            ext = st.created_extension(item.stmt.text)
            if not ext:
                continue
            first_line = first_line or (item.section, item.stmt.line)
            if ext not in self.catalog.extensions:
                hint = self.catalog.suggest_extension(ext)
                self.add(Finding(
                    "extension.unknown", "error", item.section,
                    f"line {item.stmt.line}: extension {ext!r} does not exist for PostgreSQL "
                    f"{self.catalog.major}" + (" (commented out, to run when needed)"
                                               if item.stmt.commented else ""),
                    f"use {hint!r} (CREATE EXTENSION {hint}, after adding it to "
                    "shared_preload_libraries if it needs that)" if hint else "remove it",
                    item.stmt.line, "executed"), item.stmt.line)
        allow = any("azure.extensions" in ln.text for ln in self.doc.lines)
        if self.facts.azure and first_line and not allow:
            self.add(Finding(
                "azure.extension_allowlist", "warning", first_line[0],
                f"line {first_line[1]}: on Azure, CREATE EXTENSION fails until the extension is "
                "allow-listed in the server parameter azure.extensions",
                "first: az postgres flexible-server parameter set --name azure.extensions "
                "--value uuid-ossp,pg_stat_statements,pg_trgm,pgaudit", first_line[1], "data"))

    def privileges(self) -> None:
        usage: dict[str, set[str]] = {}
        members: dict[str, set[str]] = {}
        for item in self.parsed.sql:
            text = item.stmt.text
            gs = st.grant_on_schema(text)
            if gs and re.search(r"\b(usage|all)\b", gs[0]):
                for schema in gs[1]:
                    usage.setdefault(schema, set()).update(gs[2])
            gr = st.grant_role(text)
            if gr:
                for member in gr[1]:
                    members.setdefault(member, set()).update(gr[0])
        for item in self.parsed.sql:
            g = st.grant_all_in_schema(item.stmt.text)
            if g:
                for role in g.roles:
                    via = {role, *members.get(role, set()), "public"}
                    if not via & usage.get(g.schema, set()):
                        self.add(Finding(
                            "doc.select_without_usage", "warning", item.section,
                            f"line {item.stmt.line}: {role} gets {g.privileges} on all "
                            f"{g.kind} in schema {g.schema} but never USAGE on the schema; the "
                            "grant only works while PUBLIC keeps USAGE, which a least-privilege "
                            "setup revokes", f"GRANT USAGE ON SCHEMA {g.schema} TO {role};",
                            item.stmt.line))
            dp = st.default_privileges(item.stmt.text)
            if dp and dp[0] is None:
                steps = self.parsed.schema_steps
                who = f" (§{steps[0].section.lstrip('§')} creates them as {steps[0].role})" \
                    if steps and steps[0].role else ""
                self.add(Finding(
                    "doc.default_privileges_scope", "error", item.section,
                    f"line {item.stmt.line}: ALTER DEFAULT PRIVILEGES without FOR ROLE only "
                    "covers objects created later by the role running it, not the tables the "
                    f"schema owner creates{who}",
                    "ALTER DEFAULT PRIVILEGES FOR ROLE <schema owner> IN SCHEMA public GRANT "
                    "...; and apply the schema as that owner", item.stmt.line))

    def schema_role(self) -> None:
        apps = self.app_roles()
        for step in self.parsed.schema_steps:
            if step.role and step.role.lower() in apps:
                self.add(Finding(
                    "doc.schema_as_app_role", "error", step.section,
                    f"line {step.line}: the schema is applied as {step.role}, the application "
                    f"role: {step.role} then owns the tables and can DROP or ALTER them, and "
                    "no REVOKE takes that back", "create a NOLOGIN owner role (e.g. bill_owner), "
                    "apply the schema as the administrator with SET ROLE to it, and grant the "
                    "application only DML", step.line))

    def shell_commands(self) -> None:
        db = self.plan.database.name if self.plan else None
        for section, cmd in self.parsed.commands:
            if cmd.argv[0] == "az":
                for f in azure_cli.check(cmd, section, self.catalog):
                    self.add(f)
            if cmd.argv[0] == "pgbench" and "-i" in cmd.argv and db and db in cmd.argv:
                self.add(Finding(
                    "doc.pgbench_in_service_db", "warning", section,
                    f"line {cmd.line}: pgbench -i creates and truncates pgbench_* tables in the "
                    f"service database {db}",
                    "run pgbench against a separate database (createdb pgbench_test)",
                    cmd.line))

    def azure_creation(self) -> None:
        if self.facts.azure:
            self.findings += azure_create.findings(self.doc, self.parsed.commands)

    def figures(self) -> None:
        version = docfacts.first(self.doc, "version")
        if version:
            self.findings += eol.check(int(version.value), version.section, self.today,
                                       version.line)
        if self.plan and self.facts.pool_size:
            self.facts.pods = Fact(self.plan.service.max_pods, self.facts.pool_size.section,
                                   None, "service.max_pods of the plan file; the document does "
                                   "not state the pod count")
        self.findings += budgets.memory(self.facts, self.catalog)
        self.findings += budgets.connections(self.facts, self.catalog)
        self.findings += budgets.targets(self.facts)

    # --- execution -----------------------------------------------------------------------
    def expected(self) -> Expected:
        roles = {r for i in self.parsed.sql if (r := st.created_role(i.stmt.text))}
        exts = {e for i in self.parsed.sql if (e := st.created_extension(i.stmt.text))}
        dbs = {d for i in self.parsed.sql if (d := st.created_database(i.stmt.text))}
        plan_roles, plan_exts, db = [], [], "postgres"
        if self.plan:
            db = self.plan.database.name
            plan_roles = [r for r in [self.plan.roles.owner, *self.plan.roles.all()]
                          if r not in roles]
            plan_exts = [e for e in self.plan.database.extensions if e not in exts]
        return Expected(db, plan_roles, plan_exts, bool(self.parsed.schema_steps), db in dbs)

    def execute(self, runner: Runner) -> int:
        runner.start()
        actions: list[tuple[int, object]] = [(i.stmt.line, i) for i in self.parsed.sql]
        actions += [(s.line, s) for s in self.parsed.schema_steps]
        grants_before: dict[str, list[int]] = {}
        ran = 0
        for _, action in sorted(actions, key=lambda a: a[0]):
            if isinstance(action, SqlItem):
                if action.stmt.meta:
                    outcome = runner.meta(action.stmt, action.section)
                    if outcome is None:
                        continue
                else:
                    outcome = runner.statement(action.stmt, action.section)
                    ran += 1
            else:
                outcome = runner.apply_schema(action.role, action.database, action.line,
                                              action.section)
                ran += 1
            self._outcome(outcome, grants_before)
        for section, lines in grants_before.items():
            later = [s for s in self.parsed.schema_steps if s.line > lines[0]]
            where = (f"the tables are created later ({later[0].section}, line {later[0].line})"
                     if later else "no table exists yet when they run")
            self.add(Finding(
                "doc.grant_before_object", "error", section,
                f"lines {', '.join(map(str, lines))}: GRANT ... ON ALL TABLES/SEQUENCES IN "
                f"SCHEMA reached no object on the server, because {where}: the roles end up "
                "with no privileges on the tables", "run these GRANTs after the schema is "
                "applied, and set ALTER DEFAULT PRIVILEGES FOR ROLE <schema owner> for later "
                "tables", lines[0], "executed"))
        return ran

    def _outcome(self, o: Outcome, grants_before: dict[str, list[int]]) -> None:
        if o.note and o.note.startswith("granted on 0"):
            grants_before.setdefault(o.section, []).append(o.line)
        if o.pending_restart:
            idx = self.by_line.get(("reload", o.line))
            if idx is not None:
                f = self.findings[idx]
                self.findings[idx] = Finding(
                    f.id, f.severity, f.section, f"{f.message}; the scratch server confirms "
                    f"pending_restart = true for {', '.join(o.pending_restart)} after the "
                    "reload", f.fix, f.line, "executed")
        if not o.error:
            return
        server = f"ERROR {o.sqlstate}: {o.error}" if o.sqlstate else f"ERROR: {o.error}"
        idx = self.by_line.get(o.line)
        if idx is not None:
            f = self.findings[idx]
            self.findings[idx] = Finding(f.id, f.severity, f.section,
                                         f"{f.message}; PostgreSQL {self.catalog.major} "
                                         f"says: {server}", f.fix, f.line, "executed")
            return
        fix = o.hint or f"correct the statement so that it runs on PostgreSQL {self.catalog.major}"
        col = re.search(r'column "?(?:\w+\.)?(\w+)"? does not exist', o.error)
        if col and col.group(1) in _RENAMED:
            fix = f"use {_RENAMED[col.group(1)]}"
        if o.text.startswith("(schema file"):
            fix = ("apply the schema as the administrator with SET ROLE to a NOLOGIN owner "
                   "role; PostgreSQL 15 no longer lets every role CREATE in schema public")
        what = "commented out, to run when needed: " if o.commented else ""
        first = " ".join(o.text.split())[:90]
        self.add(Finding("doc.sql_error", "error", o.section,
                         f"line {o.error_line or o.line}: {what}{first} -> {server}"
                         + (f" [{o.note}]" if o.note else ""), fix, o.error_line or o.line,
                         "executed"))

    def static(self) -> None:
        self.credentials()
        self.settings()
        self.extensions()
        self.privileges()
        self.schema_role()
        self.shell_commands()
        self.azure_creation()
        if self.facts.azure:  # the platform's rules, each citing Microsoft's page
            self.findings += azure_rules.findings(self.doc)
        self.figures()
