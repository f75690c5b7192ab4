"""`billdb up`: converge the local environment to the plan, step by step, idempotently.

Each step checks what is there, changes only what differs, and says which it did. A step
that fails raises StepError naming itself and its log, and later steps do not run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import psycopg

from billdb import scram
from billdb import sql as sqlfiles
from billdb.client.routes import Routes
from billdb.context import Context
from billdb.engines import etcd, patroni, process
from billdb.engines.http import HttpError
from billdb.engines.patroni import PatroniAPI, wait_for
from billdb.engines.secrets import SecretStore, write_pgpass
from billdb.engines.tls import ensure_tls
from billdb.errors import StepError
from billdb.internal import REPLICATION_USER, REWIND_USER, SUPERUSER
from billdb.ops import cluster, heal, keys, partitions, pooler, services
from billdb.ops.backup import provision as backup_provision
from billdb.ops.pgvalues import matches
from billdb.ops.steps import Steps
from billdb.render import roles as role_sql
from billdb.render.parameters import cluster_settings
from billdb.render.patroni import dcs_config, member_config
from billdb.render.pgbackrest import member_parameters

INTERNAL_ROLES = (SUPERUSER, REPLICATION_USER, REWIND_USER)


def up(ctx: Context, steps: Steps) -> Steps:
    steps.run("host", lambda: check_host(ctx))
    steps.run("directories", lambda: ensure_directories(ctx))
    steps.run("secrets", lambda: ensure_secrets(ctx))
    steps.run("column keys", lambda: keys.ensure_keyring(ctx))
    steps.run("tls", lambda: ensure_certificates(ctx))
    steps.run("backup storage", lambda: backup_provision.ensure_storage(ctx))
    steps.run("etcd", lambda: ensure_etcd(ctx))
    steps.run("patroni config", lambda: write_member_configs(ctx))
    for member in _start_order(ctx):
        steps.run(f"member {member.name}", lambda m=member: ensure_member(ctx, m))
    steps.run("cluster parameters", lambda: ensure_parameters(ctx))
    steps.run("rejoin", lambda: heal.ensure_rejoined(ctx))
    steps.run("replication", lambda: wait_replication(ctx))
    steps.run("roles", lambda: ensure_roles(ctx))
    steps.run("database", lambda: ensure_database(ctx))
    steps.run("extensions", lambda: ensure_extensions(ctx))
    steps.run("privileges", lambda: ensure_privileges(ctx))
    steps.run("migrations", lambda: apply_migrations(ctx))
    steps.run("partitions", lambda: partitions.ensure_step(ctx))
    steps.run("backup", lambda: backup_provision.ensure_stanza(ctx))
    steps.run("routes", lambda: ensure_routes(ctx))
    steps.run("pooler", lambda: pooler.ensure_step(ctx))
    steps.run("services", lambda: services.ensure_started(ctx))
    return steps


def _start_order(ctx: Context):
    """Zone members first (the first one bootstraps the cluster), the replica last."""
    return sorted(ctx.members, key=lambda m: (m.kind != "zone", ctx.members.index(m)))


# --- host, files, secrets -------------------------------------------------------------

def check_host(ctx: Context) -> tuple[bool, str]:
    env = ctx.local
    for binary in (Path(env.postgres_bin) / "postgres", Path("/usr/bin/etcd")):
        if not binary.exists():
            raise StepError("host", f"{binary} is missing: run `make up` (scripts/install.sh)")
    process.os_user(env.os_user)
    locales = process.run(["locale", "-a"], step="host").stdout.lower().split()
    wanted = ctx.plan.database.lc_collate.lower().replace("utf-8", "utf8")
    if wanted not in locales:
        raise StepError("host", f"locale {ctx.plan.database.lc_collate} is not generated: "
                        "run `make up` (scripts/install.sh)")
    res = process.run([str(patroni.executable()), "--version"], user=env.os_user, check=False)
    if res.returncode != 0:
        raise StepError("host", f"the OS user {env.os_user} cannot run {patroni.executable()}: "
                        "build the venv with /usr/bin/python3 in a directory that user can read")
    return False, f"PostgreSQL binaries, etcd, locale and {res.stdout.strip()} present"


def ensure_directories(ctx: Context) -> tuple[bool, str]:
    lay, user = ctx.layout, ctx.local.os_user
    made = []
    plan = [
        (lay.state_dir, 0o755, None), (lay.secrets_dir, 0o700, None), (lay.tls_dir, 0o755, None),
        (lay.logs_dir, 0o755, None), (lay.run_dir, 0o700, user), (lay.etcd_dir, 0o700, user),
        (lay.state_dir / "members", 0o755, None),
    ]
    plan += [(lay.member(m.name).root, 0o700, user) for m in ctx.members]
    for path, mode, owner in plan:
        if not path.exists():
            path.mkdir(parents=True, mode=mode)
            made.append(str(path))
        os.chmod(path, mode)
        if owner:
            process.chown_tree(path, owner)
    return bool(made), f"created {len(made)} directories" if made else "all present"


def ensure_secrets(ctx: Context) -> tuple[bool, str]:
    store = SecretStore(ctx.layout.secrets_file)
    roles = list(INTERNAL_ROLES) + list(ctx.plan.roles.login)
    created = [r for r in roles if store.ensure(store.password_key(r))]
    pgpass = {r: store.role_password(r) for r in [SUPERUSER, *ctx.plan.roles.login]}
    changed_pgpass = write_pgpass(ctx.layout.pgpass, pgpass)
    os.chmod(ctx.layout.secrets_file, 0o600)
    detail = f"generated {len(created)} passwords" if created else "all present"
    return bool(created or changed_pgpass), f"{detail} ({ctx.layout.secrets_file}, 0600)"


def ensure_certificates(ctx: Context) -> tuple[bool, str]:
    lay = ctx.layout
    uid = process.os_user(ctx.local.os_user).pw_uid
    changed = ensure_tls(lay.ca_cert, lay.ca_key, lay.server_cert, lay.server_key, uid)
    return changed, ("issued CA and server certificate" if changed
                     else "CA and server certificate valid")


# --- servers ---------------------------------------------------------------------------

def ensure_etcd(ctx: Context) -> tuple[bool, str]:
    svc = etcd.service(ctx.local, ctx.layout)
    pid, started = process.start(svc)
    if not etcd.wait_healthy(ctx.local, 30):
        raise StepError("etcd", "not healthy after 30 s", str(svc.logfile))
    return started, f"{'started' if started else 'running'} (pid {pid})"


def _yaml_text(data: dict) -> str:
    """Patroni's configuration as JSON (valid YAML): every string stays quoted, so values
    such as 'on' cannot turn into booleans in Patroni's YAML 1.1 reader."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_member_configs(ctx: Context) -> tuple[bool, str]:
    store = SecretStore(ctx.layout.secrets_file)
    pw = {r: store.role_password(r) for r in INTERNAL_ROLES}
    uid = process.os_user(ctx.local.os_user).pw_uid
    promoted = dr_state(ctx).get("promoted")
    changed = []
    for m in ctx.members:
        path = ctx.layout.member(m.name).config
        text = _yaml_text(member_config(ctx.plan, ctx.layout, m, pw, promoted))
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chown(path, uid, -1)
        changed.append(m.name)
        if process.running_pid(patroni.service(ctx.local, ctx.layout, m)):
            try:
                PatroniAPI(m).reload()
            except HttpError as exc:
                raise StepError("patroni config", f"reload of {m.name} failed: {exc}",
                                str(ctx.layout.member(m.name).log)) from None
    return bool(changed), (f"wrote {', '.join(changed)}" if changed else "unchanged")


def dr_state(ctx: Context) -> dict:
    """What a region failover left behind ({} when the topology is as planned)."""
    try:
        return json.loads(ctx.layout.dr_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _member_state(m) -> dict | None:
    return PatroniAPI(m).status()


def _running(m) -> bool:
    """PostgreSQL accepts connections: Patroni answers during a rebuild or restart too."""
    return (_member_state(m) or {}).get("state") == "running"


def ensure_member(ctx: Context, m) -> tuple[bool, str]:
    svc = patroni.service(ctx.local, ctx.layout, m)
    pid, started = process.start(svc)
    log = str(svc.logfile)

    # PostgreSQL is up, whatever its role: after a full stop the former leader may be
    # started later, and only it may lead (synchronous mode); the replication step
    # waits for the whole cluster.
    if not wait_for(lambda: _running(m), 120 if started else 30):
        if not process.running_pid(svc):
            raise StepError(f"member {m.name}", "Patroni exited", log)
        lead = cluster.leader_name(ctx)
        if lead is None or lead == m.name:
            raise StepError(f"member {m.name}", "PostgreSQL is not running after waiting", log)
        heal.reinit(ctx, m.name, f"PostgreSQL not running after waiting ({lead} leads)")
    st = _member_state(m) or {}
    role = st.get("role", "?")
    return started, f"{'started' if started else 'running'} as {role} (patroni pid {pid})"


def _pending_restart(ctx: Context, m) -> bool:
    with cluster.admin_connect(ctx, m) as conn:
        return bool(conn.execute(
            "SELECT count(*) FROM pg_settings WHERE pending_restart").fetchone()[0])


def _applied(ctx: Context, m) -> bool:
    """Every managed parameter either has the plan's value or waits for a restart."""
    settings = cluster_settings(ctx.plan, ctx.env_name)
    with cluster.admin_connect(ctx, m) as conn:
        rows = conn.execute(sqlfiles.load("verify/parameters"),
                            {"names": [s.name for s in settings]}).fetchall()
    found = {r[0]: r for r in rows}
    local = member_parameters(ctx.plan, ctx.layout, m.name)  # archive_command names its dir
    for s in settings:
        row = found.get(s.name)
        if row is None:
            return False
        _, setting, unit, vartype, _, pending = row
        if not pending and not matches(s.name, local.get(s.name, s.value), setting, unit,
                                       vartype):
            return False
    return True


def ensure_parameters(ctx: Context) -> tuple[bool, str]:
    """Patch Patroni's DCS configuration to the plan, then restart members that need it."""
    lead = cluster.leader(ctx)
    api = PatroniAPI(lead)
    current = api.config()
    desired = dcs_config(ctx.plan, ctx.env_name)
    patch: dict = {}
    for key, value in desired.items():
        if key != "postgresql" and current.get(key) != value:
            patch[key] = value
    cur_pg = current.get("postgresql", {})
    pg_patch: dict = {}
    for key in ("use_pg_rewind", "use_slots"):
        if cur_pg.get(key) != desired["postgresql"][key]:
            pg_patch[key] = desired["postgresql"][key]
    cur_params = {k: str(v) for k, v in (cur_pg.get("parameters") or {}).items()}
    want_params = desired["postgresql"]["parameters"]
    param_patch = {k: v for k, v in want_params.items() if cur_params.get(k) != v}
    param_patch.update({k: None for k in cur_params if k not in want_params})
    if param_patch:
        pg_patch["parameters"] = param_patch
    if pg_patch:
        patch["postgresql"] = pg_patch
    notes = []
    if patch:
        api.patch_config(patch)
        names = sorted((set(patch) - {"postgresql"}) | set(param_patch))
        notes.append(f"patched {', '.join(names)}")
        for m in ctx.members:
            if _running(m) and not wait_for(lambda m=m: _applied(ctx, m), 30, 1.0):
                raise StepError("cluster parameters", f"{m.name} did not apply the new settings",
                                str(ctx.layout.member(m.name).log))
    restarted = []
    order = sorted(ctx.members, key=lambda m: m.name == lead.name)  # the primary last
    for m in order:
        if _running(m) and _pending_restart(ctx, m):
            try:
                PatroniAPI(m).restart()
            except HttpError as exc:
                raise StepError("cluster parameters", f"restart of {m.name} failed: {exc}",
                                str(ctx.layout.member(m.name).log)) from None
            restarted.append(m.name)
            wait_for(lambda m=m: _running(m), 60)
    if restarted:
        notes.append(f"restarted {', '.join(restarted)} for pending parameters")
    return bool(notes), "; ".join(notes) if notes else "as planned"


def wait_replication(ctx: Context) -> tuple[bool, str]:
    """Every member streams; with two zones, one of them is the synchronous standby."""
    sync_wanted = dcs_config(ctx.plan)["synchronous_mode"]

    def healthy() -> bool:
        body = cluster.patroni_cluster(ctx) or {}
        members = {m["name"]: m for m in body.get("members", [])}
        if set(members) != {m.name for m in ctx.members}:
            return False
        for m in members.values():
            if m.get("role") == "leader":
                if m.get("state") != "running":
                    return False
            elif m.get("state") != "streaming":
                return False
        return not sync_wanted or any(m.get("role") == "sync_standby" for m in members.values())

    if not wait_for(healthy, 90, 0.5):
        raise StepError("replication", "members are not all streaming (see `billdb status`)",
                        str(ctx.layout.state_dir / "members"))
    n = len(ctx.members)
    sync = ", synchronous standby present" if sync_wanted else ""
    return False, f"{n} members streaming{sync}"


# --- database objects ------------------------------------------------------------------

def _fingerprint(conn: psycopg.Connection) -> str:
    return conn.execute(sqlfiles.load("provision/fingerprint")).fetchone()[0]


def ensure_roles(ctx: Context) -> tuple[bool, str]:
    store = SecretStore(ctx.layout.secrets_file)
    plan_roles = {ctx.plan.roles.owner: False}
    plan_roles.update({r: True for r in ctx.plan.roles.login})
    plan_roles.update({r: False for r in ctx.plan.roles.groups})
    notes = []
    with cluster.admin_connect(ctx) as conn:
        before = _fingerprint(conn)
        existing = {r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [list(plan_roles)])}
        for name, login in plan_roles.items():
            if name not in existing:
                conn.execute(role_sql.create_role(name, login))
                notes.append(f"created {name}")
            conn.execute(role_sql.alter_role_attributes(name, login))
        reset = []
        for name in ctx.plan.roles.login:
            stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                                  [name]).fetchone()[0]
            if not scram.matches(stored, store.role_password(name)):
                conn.execute(role_sql.set_password(name, store.role_password(name)))
                reset.append(name)
        if reset:
            notes.append(f"set passwords of {', '.join(reset)}")
        after = _fingerprint(conn)
    if before != after and not notes:
        notes.append("repaired role attributes")
    return bool(notes), "; ".join(notes) if notes else f"{len(plan_roles)} roles as planned"


def ensure_database(ctx: Context) -> tuple[bool, str]:
    db = ctx.plan.database
    with cluster.admin_connect(ctx) as conn:
        before = _fingerprint(conn)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db.name]).fetchone()
        if not exists:
            conn.execute(role_sql.create_database(ctx.plan))
        for stmt in role_sql.database_settings(ctx.plan):
            conn.execute(stmt)
        changed = _fingerprint(conn) != before
    if not exists:
        return True, f"created {db.name} ({db.encoding}, {db.lc_collate}, {db.timezone})"
    return changed, "settings repaired" if changed else f"{db.name} as planned"


def ensure_extensions(ctx: Context) -> tuple[bool, str]:
    wanted = ctx.plan.database.extensions
    created = []
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        have = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        for ext in wanted:
            if ext not in have:
                conn.execute(psycopg.sql.SQL("CREATE EXTENSION {}").format(
                    psycopg.sql.Identifier(ext)))
                created.append(ext)
    return bool(created), (f"created {', '.join(created)}" if created
                           else f"{', '.join(wanted)} present")


def ensure_privileges(ctx: Context) -> tuple[bool, str]:
    names = list(ctx.plan.roles.all())
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name, autocommit=False) as conn:
        before = _fingerprint(conn)
        rows = conn.execute(
            "SELECT m.member::regrole::text, m.roleid::regrole::text FROM pg_auth_members m "
            "WHERE m.member::regrole::text = ANY(%s)", [names]).fetchall()
        members: dict[str, set[str]] = {}
        for member, group in rows:
            members.setdefault(member, set()).add(group)
        for stmt in role_sql.privilege_statements(ctx.plan, members):
            conn.execute(stmt)
        after = _fingerprint(conn)
        conn.commit()
    changed = before != after
    return changed, "privileges repaired" if changed else "least privilege as planned"


def apply_migrations(ctx: Context) -> tuple[bool, str]:
    applied_now = []
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name, autocommit=False) as conn:
        conn.execute(sqlfiles.load("provision/migrations_table"))
        conn.commit()
        done = {v: c for v, c in conn.execute(
            "SELECT version, checksum FROM billdb.schema_migrations")}
        conn.commit()
        for version, name, text in sqlfiles.migrations():
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise StepError("migrations", f"V{version:03d}__{name} changed after it was "
                                    "applied: write a new migration instead of editing one")
                continue
            conn.execute("SET LOCAL search_path = public")
            conn.execute(psycopg.sql.SQL("SET LOCAL ROLE {}").format(
                psycopg.sql.Identifier(ctx.plan.roles.owner)))
            try:
                conn.execute(text)
            except psycopg.Error as exc:
                conn.rollback()
                raise StepError("migrations", f"V{version:03d}__{name}: {exc}".strip()) from None
            conn.execute("RESET ROLE")
            conn.execute("INSERT INTO billdb.schema_migrations (version, name, checksum) "
                         "VALUES (%s, %s, %s)", [version, name, checksum])
            conn.commit()
            applied_now.append(f"V{version:03d}")
    total = len(sqlfiles.migrations())
    if applied_now:
        return True, f"applied {', '.join(applied_now)} ({total} in all)"
    return False, f"{total} migrations applied, none pending"



def ensure_routes(ctx: Context) -> tuple[bool, str]:
    """The application's routes: writes to the zone pair, reads to the read replica. If the
    primary is elsewhere (after a DR promotion) the write route starts with it."""
    write = [m.port for m in ctx.members if m.kind == "zone"]
    lead = ctx.member(cluster.leader(ctx).name)
    if lead.port not in write:
        write = [lead.port, *write]
    read = [m.port for m in ctx.members if m.kind == "replica" and m.name != lead.name]
    changed = Routes(write=write, read=read).save(ctx.layout.routes_file)
    return changed, f"write -> {write}, read -> {read or write}"
