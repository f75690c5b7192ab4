"""`billdb plan lint`: review a plan file, or the Markdown plan document, before anyone runs it.

Both reviews start a throwaway PostgreSQL of the plan's major version (state.scratch) so that
parameter and extension names come from the server itself, and the document's SQL is
actually executed (lint.sqlrun). Findings are {"id", "severity", "section", "message", "fix"}.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from billdb.errors import BilldbError
from billdb.lint import catalog as catalog_mod
from billdb.lint import eol, markdown, yaml_rules
from billdb.lint.document import DocumentLint
from billdb.lint.findings import Finding, report
from billdb.lint.sqlrun import Runner
from billdb.plan.load import DEFAULT_PLAN, load_plan
from billdb.plan.models import Plan
from billdb.state.scratch import Scratch, bin_dir, scratch_server

Progress = Callable[[str], None]


def _libraries(plan: Plan | None, major: int) -> tuple[list[str], list[str]]:
    """(libraries to preload on the scratch server, libraries the plan names but lacks)."""
    wanted = list(plan.parameters.shared_preload_libraries) if plan else ["pg_stat_statements"]
    fallback = plan.environments.local.postgres_bin if plan else f"/usr/lib/postgresql/{major}/bin"
    binaries, _ = bin_dir(major, fallback)
    libdir = binaries.parent / "lib"
    have = [lib for lib in wanted if (libdir / f"{lib}.so").exists()]
    return have, [lib for lib in wanted if lib not in have]


def _server(scratch: Scratch | None, major: int, fallback: str,
            preload: list[str]) -> contextlib.AbstractContextManager[Scratch]:
    """The caller's scratch server (tests share one), or a new one for this run."""
    if scratch is not None:
        return contextlib.nullcontext(scratch)
    return scratch_server(major, fallback, preload)


def _version_note(plan_major: int, server_major: int, section: str) -> list[Finding]:
    if plan_major == server_major:
        return []
    return [Finding("lint.server_version", "info", section,
                    f"no PostgreSQL {plan_major} binaries here: names and SQL were checked on "
                    f"PostgreSQL {server_major}",
                    f"run scripts/install_postgres.sh {plan_major} to check against the plan's "
                    "own version", None, "executed")]


def lint_plan(plan_path: Path | None = None, today: date | None = None,
              progress: Progress = lambda _: None, scratch: Scratch | None = None) -> dict:
    path = Path(plan_path or DEFAULT_PLAN)
    plan = load_plan(path)
    today = today or date.today()
    major = plan.server.postgres_version
    preload, missing = _libraries(plan, major)
    t0 = time.monotonic()
    progress(f"starting a scratch PostgreSQL {major}")
    with _server(scratch, major, plan.environments.local.postgres_bin, preload) as server:
        started = time.monotonic() - t0
        progress("reading pg_settings and pg_available_extensions")
        with server.connect() as conn:
            cat = catalog_mod.read(conn, server.major)
    findings = yaml_rules.lint(plan, path, cat, missing, today)
    findings += eol.major_change(plan, "§2.1")  # against the local environment's data
    findings += _version_note(major, cat.major, "§2.1")
    return report(str(path), findings, today=str(today),
                  server={"postgres_major": cat.major, "start_s": round(started, 2),
                          "total_s": round(time.monotonic() - t0, 2)})


def lint_document(doc_path: Path, plan_path: Path | None = None, today: date | None = None,
                  progress: Progress = lambda _: None, scratch: Scratch | None = None) -> dict:
    """The document against a scratch server of the plan's major version. The plan file
    (default plans/bill-inquiry.yaml when present) supplies that version, the objects the
    document's SQL expects, and the pod count the document does not state."""
    path = Path(doc_path)
    doc = markdown.parse(path)
    if not markdown.has_plan_content(doc):
        raise BilldbError(f"{path}: no plan content found (no numbered section, no SQL "
                          "block): lint a plan document such as db-plan-bill-inquiry-prod.md")
    plan_file = Path(plan_path) if plan_path else DEFAULT_PLAN
    plan = load_plan(plan_file) if plan_path or plan_file.exists() else None
    today = today or date.today()
    major = plan.server.postgres_version if plan else 15
    preload, _ = _libraries(plan, major)
    fallback = plan.environments.local.postgres_bin if plan else f"/usr/lib/postgresql/{major}/bin"
    t0 = time.monotonic()
    progress(f"starting a scratch PostgreSQL {major}")
    with _server(scratch, major, fallback, preload) as server:
        started = time.monotonic() - t0
        with server.connect() as conn:
            cat = catalog_mod.read(conn, server.major)
        lint = DocumentLint(doc, plan, cat, today)
        progress("checking the document")
        lint.static()
        progress("executing the document's SQL (rolled back)")
        runner = Runner(server, lint.expected())
        try:
            executed = lint.execute(runner)
        finally:
            runner.close()
    findings = lint.findings + _version_note(major, cat.major, "§2.1")
    return report(str(path), findings, today=str(today),
                  plan=str(plan_file) if plan else None,
                  server={"postgres_major": cat.major, "start_s": round(started, 2),
                          "total_s": round(time.monotonic() - t0, 2),
                          "statements_executed": executed})
