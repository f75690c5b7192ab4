"""The converge core: pure diffs (unit), and against a real environment a restart-needing
parameter that `up` applies (standbys restarted before the primary) and a `verify` that
writes nothing (no pgaudit DDL or WRITE line on any member)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import psycopg
import pytest

from billdb.converge import core, parameters, privileges, roles, schema
from billdb.converge import database as db_resource
from billdb.converge.expected_schema import Catalog
from billdb.plan.load import load_plan
from billdb.render.parameters import Setting
from billdb.state.pgvalues import SettingRow
from conftest import PORT_BASE, Env, write_plan

ROOT = Path(__file__).resolve().parents[1]


def _plan():
    return load_plan(ROOT / "plans" / "bill-inquiry.yaml")


# --- pure: desired and diff, no server --------------------------------------------------

def _row(name: str, setting: str, unit: str | None = None, vartype: str = "string",
         pending: bool = False) -> SettingRow:
    """A pg_settings row; the context is the server's own (max_connections: postmaster)."""
    context = "postmaster" if name == "max_connections" else "user"
    return SettingRow(name, setting, unit, vartype, context, pending)


def _rows(settings: list[Setting], **override: tuple) -> dict[str, SettingRow]:
    rows = {s.name: _row(s.name, s.text) for s in settings}
    rows.update({name: _row(name, *t) for name, t in override.items()})
    return rows


@pytest.mark.unit
def test_parameter_diff_names_the_drift_and_its_section():
    settings = [Setting("max_connections", 200, "§5.1 parameters"),
                Setting("ssl", True, "§3.2 security")]
    observed = parameters.Observed("zone1", {
        "zone1": _rows(settings, max_connections=("100", None, "integer", False)),
        "zone2": _rows(settings, max_connections=("200", None, "integer", True)),
        "replica": "connection refused"})
    checks = parameters.checks(settings, observed)
    assert [c.id for c in checks] == ["param.max_connections", "param.ssl", "param.zone2.all",
                                      "param.replica"]
    drifts = core.diff(checks)
    assert [(d.id, d.section, d.expected, d.actual) for d in drifts] == [
        ("param.max_connections", "§5.1 parameters", 200, 100),
        ("param.zone2.all", "§5.1 parameters", "same as the plan",
         "max_connections=200 (pending restart)"),
        ("param.replica", "§5.1 parameters", "reachable", "connection refused")]
    assert parameters.waiting_only(settings, observed.members["zone2"])
    assert not parameters.waiting_only(settings, observed.members["zone1"])


@pytest.mark.unit
def test_each_member_is_held_to_its_own_archive_command():
    cluster_wide = [Setting("archive_command", "push --pg1-path=$PWD", "§9.1 backup")]
    local = {"a": {"archive_command": "push --pg1-path=/a"},
             "b": {"archive_command": "push --pg1-path=/b"}}
    observed = parameters.Observed("a", {
        "a": {"archive_command": _row("archive_command", "push --pg1-path=/a")},
        "b": {"archive_command": _row("archive_command", "push --pg1-path=/a")}})
    drifts = core.diff(parameters.checks(cluster_wide, observed, local))
    assert [(d.id, d.actual) for d in drifts] == [
        ("param.b.all", "archive_command=push --pg1-path=/a")]
    assert parameters.waiting_only(parameters.for_member(cluster_wide, local["a"]),
                                   observed.members["a"])


@pytest.mark.unit
def test_parameter_units_compare_through_pgvalues():
    s = [Setting("shared_buffers", "256MB", "§5.1 parameters")]
    ok = parameters.Observed("a", {"a": {
        "shared_buffers": _row("shared_buffers", "32768", "8kB", "integer")}})
    assert not core.diff(parameters.checks(s, ok))
    bad = parameters.Observed("a", {"a": {
        "shared_buffers": _row("shared_buffers", "16384", "8kB", "integer")}})
    (drift,) = core.diff(parameters.checks(s, bad))
    assert drift.id == "param.shared_buffers" and drift.expected == "256MB"


@pytest.mark.unit
def test_dcs_patch_changes_only_what_differs_and_restarts_standbys_first():
    want = {"ttl": 20, "postgresql": {"use_pg_rewind": True, "use_slots": True,
                                      "parameters": {"max_connections": "210", "ssl": "on"}}}
    current = {"ttl": 20, "postgresql": {"use_pg_rewind": True, "use_slots": True,
                                         "parameters": {"max_connections": 200, "ssl": "on",
                                                        "old": "x"}}}
    patch = parameters.dcs_patch(want, current)
    assert patch == {"postgresql": {"parameters": {"max_connections": "210", "old": None}}}
    assert parameters.patched_names(patch) == ["max_connections", "old"]
    assert parameters.dcs_patch(want, json.loads(json.dumps(want))) == {}
    assert parameters.restart_order(["zone1", "zone2", "replica"], "zone1") == [
        "zone2", "replica", "zone1"]
    assert parameters.restart_order(["zone1", "zone2", "replica"], "zone1", lower=True) == [
        "zone1", "zone2", "replica"]


@pytest.mark.unit
def test_lowering_a_standby_bound_parameter_restarts_the_primary_first():
    settings = [Setting("max_connections", 200, "§5.1 parameters"),
                Setting("work_mem", "4MB", "§5.1 parameters")]
    running = {"max_connections": _row("max_connections", "210", None, "integer", True),
               "work_mem": _row("work_mem", "4096", "kB", "integer", False)}
    assert parameters.lowering(settings, running)
    assert parameters.needs_restart(settings, running)
    raised = dict(running, max_connections=_row("max_connections", "190", None, "integer",
                                                 True))
    assert not parameters.lowering(settings, raised)
    same = dict(running, max_connections=_row("max_connections", "200", None, "integer"))
    assert not parameters.needs_restart(settings, same)


@pytest.mark.unit
def test_role_attributes_have_one_definition():
    plan = _plan()
    want = roles.desired(plan)
    login = next(iter(plan.roles.login))
    good = {n: tuple(a[k] for k in ("superuser", "inherit", "createrole", "createdb", "login",
                                    "replication", "bypassrls")) for n, a in want.items()}
    assert not core.diff(roles.checks(want, good))
    bad = dict(good, **{login: (True, *good[login][1:])})
    del bad[plan.roles.owner]
    drifts = core.diff(roles.checks(want, bad))
    assert {d.id: d.actual.split()[0] for d in drifts} == {
        f"role.{login}.attributes": "superuser", f"role.{plan.roles.owner}.attributes": "missing"}


def _observed_privileges(plan, want: privileges.Desired) -> privileges.Observed:
    """What a correctly converged database shows for one table and one sequence."""
    matrix, seqs, schema_rows, defaults = [], [], {}, []
    for name, w in want.roles.items():
        for priv in privileges._ALL_TABLE:
            matrix.append((name, "system_config", priv, priv in w.tables, False))
        seqs.append((name, "s", "USAGE" in w.sequences, "SELECT" in w.sequences,
                     "UPDATE" in w.sequences))
        db = w.database
        schema_rows[name] = (w.schema["usage"], w.schema["create"], "CONNECT" in db,
                             "CREATE" in db, "TEMPORARY" in db)
        if w.default_tables:
            defaults.append(("r", name, w.default_tables))
        if w.default_sequences:
            defaults.append(("S", name, w.default_sequences))
    return privileges.Observed({n: set(w.member_of) for n, w in want.roles.items()}, matrix,
                               schema_rows, seqs, defaults,
                               {"system_config": ("r", plan.roles.owner)})


@pytest.mark.unit
def test_privilege_diff_catches_a_hand_made_grant_and_a_foreign_owner():
    plan = _plan()
    want = privileges.desired(plan)
    found = _observed_privileges(plan, want)
    checks = privileges.checks(want, found)
    assert checks and not core.diff(checks)
    reader = next(n for n, w in want.roles.items() if w.tables == ["SELECT"]
                  and plan.roles.owner not in w.member_of)
    matrix = [(r, t, p, g or (r == reader and p == "DELETE"), o) for r, t, p, g, o in found.matrix]
    owners = {"system_config": ("r", "postgres")}
    broken = privileges.Observed(found.member_of, matrix, found.schema, found.sequences,
                                 found.defaults, owners)
    drifts = {d.id: d for d in core.diff(privileges.checks(want, broken))}
    assert set(drifts) == {f"priv.{reader}.system_config", "owner.system_config"}
    assert drifts[f"priv.{reader}.system_config"].actual == ["DELETE", "SELECT"]


@pytest.mark.unit
def test_database_and_extension_diff():
    plan = _plan()
    want = db_resource.desired(plan)
    d = plan.database
    row = (d.name, d.encoding, d.lc_collate, d.lc_ctype, plan.roles.owner, d.timezone)
    assert not core.diff(db_resource.checks(want, db_resource.Observed(row, "on")))
    wrong = db_resource.Observed((*row[:5], "UTC"), "on")
    assert core.ids(core.diff(db_resource.checks(want, wrong))) == ["db.timezone"]
    missing = db_resource.checks(want, db_resource.Observed(None, "on"))
    assert core.ids(core.diff(missing)) == ["db.exists"]
    ext = db_resource.extension_checks(["pg_trgm", "uuid-ossp"], {"pg_trgm"})
    assert [(c.id, c.ok) for c in ext] == [("extension.pg_trgm", True),
                                           ("extension.uuid-ossp", False)]


@pytest.mark.unit
def test_schema_diff_against_the_migrations_catalog():
    migrations = [(1, "one", "CREATE TABLE t (id int)"), (2, "two", "ALTER TABLE t ADD v int")]
    catalog = Catalog({("table", "t"): "r", ("column", "t.id"): "integer",
                       ("column", "t.v"): "integer"}, [("k", "1", "INTEGER", True)])
    want = schema.desired(migrations, catalog)
    half = schema.Observed(want.migrations[:1], Catalog(
        {("table", "t"): "r", ("column", "t.id"): "integer"}, []))
    assert schema.pending(want, half) == [2]
    drifts = {d.id: d.actual for d in core.diff(schema.checks(want, half))}
    assert drifts == {"schema.migrations": ["V001__one"], "schema.columns": "missing t.v",
                      "seed.k": "missing"}
    done = schema.Observed(want.migrations, catalog)
    assert not core.diff(schema.checks(want, done)) and schema.pending(want, done) == []
    edited = schema.Observed([(1, "one", "0" * 64)], catalog)
    with pytest.raises(Exception, match="changed after it was applied"):
        schema.pending(want, edited)


@pytest.mark.unit
def test_expected_schema_copy_is_keyed_by_the_migrations():
    from billdb.converge import expected_schema as es

    cat = Catalog({("table", "t"): "r", ("index", "i"): "CREATE INDEX i ON t (a)"},
                  [("k", "1", "INTEGER", True)])
    migrations = [(1, "one", "CREATE TABLE t (a int)")]
    key = es.cache_key(migrations, "/usr/lib/postgresql/15/bin")
    assert es._decode(es._encode(cat, key), key) == cat
    edited = es.cache_key([(1, "one", "CREATE TABLE t (a bigint)")], "/usr/lib/postgresql/15/bin")
    assert edited != key and es._decode(es._encode(cat, key), edited) is None
    assert es._decode("not json", key) is None


# --- live: verify writes nothing ----------------------------------------------------------

_AUDIT = re.compile(r"AUDIT: \w+,\d+,\d+,(DDL|WRITE),")


def _audit_lines(env: Env) -> dict[Path, int]:
    return {f: len(f.read_text(errors="replace").splitlines())
            for f in sorted(env.state_dir.glob("members/*/pg_log/*.log"))}


def _new_audit(env: Env, before: dict[Path, int]) -> list[str]:
    out = []
    for f in sorted(env.state_dir.glob("members/*/pg_log/*.log")):
        lines = f.read_text(errors="replace").splitlines()[before.get(f, 0):]
        out += [f"{f.parent.parent.name}: {line[:200]}" for line in lines if _AUDIT.search(line)]
    return out


def test_verify_writes_nothing(env: Env):
    """Neither with the expected schema kept by `up` nor derived afresh on a scratch server
    does a verify send DDL or a write to any member (pgaudit logs ddl and write)."""
    cache = env.state_dir / "schema-expected.json"
    aside = cache.with_suffix(".aside")
    env.run("up")
    assert cache.exists()
    try:
        for label in ("kept by up", "derived on a scratch server"):
            if label.startswith("derived"):
                cache.rename(aside)
            before = _audit_lines(env)
            assert before, "no member log found"
            started = time.monotonic()
            res = env.run("verify", "--json", check=False)
            took = time.monotonic() - started
            report = json.loads(res.stdout)
            assert res.returncode == 0, [c for c in report["checks"] if not c["ok"]]
            time.sleep(1)  # let the servers' logging collector flush
            assert _new_audit(env, before) == [], label
            print(f"verify ({label}): {took:.1f} s, {len(report['checks'])} checks")
        assert not cache.exists(), "verify wrote the expected schema into the state directory"
    finally:
        if aside.exists():
            aside.rename(cache)


def test_verify_keeps_every_check_id(env: Env):
    """The 220 check ids verify reported before the converge core (tests/data) are all
    still there, each passing."""
    golden = set(json.loads((ROOT / "tests" / "data" / "verify_check_ids.json").read_text()))
    code, report = _verify_with(env, env.plan)
    got = {c["id"]: c for c in report["checks"]}
    assert golden <= set(got), sorted(golden - set(got))
    assert code == 0 and all(got[i]["ok"] for i in golden)
    assert all(set(c) == {"id", "section", "expected", "actual", "ok"} for c in got.values())


# --- live: a restart-needing parameter, applied by up -------------------------------------

def _start_times(env: Env) -> dict[str, float]:
    from billdb.state import cluster

    ctx = env.context()
    out = {}
    for m in ctx.members:
        with cluster.admin_connect(ctx, m) as conn:
            out[m.name] = conn.execute(
                "SELECT extract(epoch FROM pg_postmaster_start_time())").fetchone()[0]
    return out


def _leader(env: Env) -> str:
    from billdb.state import cluster

    return cluster.leader(env.context()).name


def _converge_to(env: Env, plan: Path, value: int) -> str:
    """`up` with `plan` raises max_connections: every member restarts, the standbys before
    the primary; verify passes and a second up changes nothing."""
    before = _start_times(env)
    lead = _leader(env)
    res = _run_with(env, plan, "up")
    after = _start_times(env)
    assert all(after[n] > before[n] for n in after), (before, after, res.stderr)
    standbys = [n for n in after if n != lead]
    assert all(after[n] < after[lead] for n in standbys), \
        f"the primary {lead} restarted before a standby: {after}"
    assert "restarted" in res.stderr and "max_connections" in res.stderr
    code, report = _verify_with(env, plan)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert code == 0, failed
    param = next(c for c in report["checks"] if c["id"] == "param.max_connections")
    assert param["actual"] == value  # typed, as the plan has it (docs/architecture.md)
    again = _run_with(env, plan, "up")
    assert "no changes" in again.stderr, again.stderr
    return res.stderr


def _run_with(env: Env, plan: Path, *args: str):
    return Env(plan, env.state_dir).run(*args)


def _verify_with(env: Env, plan: Path) -> tuple[int, dict]:
    res = Env(plan, env.state_dir).run("verify", "--json", check=False)
    return res.returncode, json.loads(res.stdout)


def test_restart_parameter_applied_standbys_first(env: Env, tmp_path: Path):
    original = int(env.context().plan.parameters.max_connections)
    changed = original + 10

    def bump(doc: dict) -> None:
        doc["parameters"]["max_connections"] = changed

    copy = write_plan(tmp_path / "plan.yaml", env.state_dir, PORT_BASE, mutate=bump)
    try:
        _converge_to(env, copy, changed)
    finally:  # the environment as the session's plan has it, for the other tests
        restored = env.run("up", check=False)
    assert restored.returncode == 0, restored.stderr
    assert "restarted" in restored.stderr
    code, report = _verify_with(env, env.plan)
    assert code == 0, [c for c in report["checks"] if not c["ok"]]
    with psycopg.connect(env.dsn("admin")) as conn:
        assert conn.execute("SHOW max_connections").fetchone()[0] == str(original)


# --- live: what verify reports is what up repairs ------------------------------------------

def test_planted_drifts_are_reported_then_repaired_by_up(env: Env):
    """A role attribute, a database setting and a table owner changed by hand: verify names
    each with its plan section, up's steps repair exactly those, verify passes again."""
    with psycopg.connect(env.dsn("admin"), autocommit=True) as conn:
        conn.execute("ALTER ROLE bill_auditor CREATEDB")
        conn.execute("ALTER DATABASE bill_inquiry_db SET timezone TO 'UTC'")
        conn.execute("ALTER TABLE system_config OWNER TO postgres")
    code, report = _verify_with(env, env.plan)
    failed = {c["id"]: c for c in report["checks"] if not c["ok"]}
    assert code == 1
    assert {"role.bill_auditor.attributes", "db.timezone", "owner.system_config"} <= set(failed)
    assert failed["db.timezone"]["section"] == "§4.1 database"
    assert failed["db.timezone"]["actual"] == "UTC"
    assert set(failed) - {"role.bill_auditor.attributes", "db.timezone",
                          "owner.system_config"} <= {
        f"priv.{r}.system_config" for r in env.context().plan.roles.all()}
    res = env.run("up")
    changed = {line.split()[1] for line in res.stderr.splitlines()
               if line.strip().startswith("changed")}
    assert {"roles", "database", "privileges"} <= changed, res.stderr
    code, report = _verify_with(env, env.plan)
    assert code == 0, [c for c in report["checks"] if not c["ok"]]
    assert "no changes" in env.run("up").stderr
