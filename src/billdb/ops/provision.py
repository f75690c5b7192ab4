"""`billdb up`: converge the local environment to the plan, step by step, idempotently.

Each step checks what is there, changes only what differs, and says which it did. A step
that fails raises StepError naming itself and its log, and later steps do not run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from billdb import appconfig
from billdb import sql as sqlfiles
from billdb.client.routes import Routes
from billdb.context import Context
from billdb.converge import database as db_resource
from billdb.converge import expected_schema, parameters
from billdb.converge import privileges as priv_resource
from billdb.converge import roles as role_resource
from billdb.converge import schema as schema_resource
from billdb.converge.core import diff, ids, require_converged
from billdb.engines import patroni, pgbackrest, pgbouncer, process
from billdb.engines.http import HttpError
from billdb.engines.patroni import PatroniAPI
from billdb.engines.secrets import SecretStore, write_pgpass
from billdb.engines.tls import ensure_tls
from billdb.errors import StepError
from billdb.fsutil import write_atomic
from billdb.internal import REPLICATION_USER, REWIND_USER, SUPERUSER
from billdb.ops import etcd_cluster, heal, keys, partitions, pooler, registry, services
from billdb.ops import tls as tls_ops
from billdb.ops.backup import provision as backup_provision
from billdb.ops.steps import Steps
from billdb.render.patroni import dcs_config, member_config
from billdb.retry import wait_until
from billdb.state import cluster, majors

INTERNAL_ROLES = (SUPERUSER, REPLICATION_USER, REWIND_USER)


def up(ctx: Context, steps: Steps) -> Steps:
    majors.refuse_change(ctx.plan)  # another major version is `billdb upgrade`'s job (exit 2)
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
    for name, step in registry.get().up_steps:  # the satellites (billdb.cli.satellites)
        steps.run(name, lambda step=step: step(ctx))
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
    # Engines for the plan's major version, before anything starts (README, "PostgreSQL
    # versions"): the preloaded libraries (pgaudit is built per major) and pgBackRest.
    root = Path(env.postgres_bin).parent
    libdir = next((d for d in (root / "lib", root / "lib" / "postgresql")
                   if (d / "plpgsql.so").exists()), root / "lib")  # the module directory
    lacking = [lib for lib in ctx.plan.parameters.shared_preload_libraries
               if not (libdir / f"{lib}.so").exists()]
    if lacking:
        raise StepError("host", f"{', '.join(lacking)} for PostgreSQL "
                        f"{ctx.plan.server.postgres_version} is not installed in {libdir} "
                        "(README, \"PostgreSQL versions\")")
    problem = pgbackrest.unsupported(ctx.plan.server.postgres_version)
    if problem:
        raise StepError("host", f"{problem} (README, \"PostgreSQL versions\")")
    locales = process.run(["locale", "-a"], step="host").stdout.lower().split()
    wanted = ctx.plan.database.lc_collate.lower().replace("utf-8", "utf8")
    if wanted not in locales:
        raise StepError("host", f"locale {ctx.plan.database.lc_collate} is not generated: "
                        "run `make up` (scripts/install.sh)")
    res = process.run([str(patroni.executable()), "--version"], user=env.os_user, check=False)
    if res.returncode != 0:
        raise StepError("host", f"the OS user {env.os_user} cannot run {patroni.executable()}: "
                        "build the venv with /usr/bin/python3 in a directory that user can read")
    found = [res.stdout.strip()]
    if ctx.plan.pooler.enabled:
        found.append(pgbouncer.check_installed(env.os_user,
                                               ctx.plan.pooler.max_prepared_statements > 0))
    return False, f"PostgreSQL binaries, etcd, locale, {' and '.join(found)} present"


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


def write_passfile(ctx: Context, store: SecretStore) -> bool:
    """The passfile billdb's tools and the clients read (the administrator and the login
    roles), and the service's Secret volume the Java datasources read (the same passwords);
    True when either changed."""
    changed = write_pgpass(ctx.layout.pgpass, {r: store.role_password(r)
                                               for r in [SUPERUSER, *ctx.plan.roles.login]})
    return appconfig.write_secret_volume(ctx, store.role_password) or changed


def ensure_secrets(ctx: Context) -> tuple[bool, str]:
    store = SecretStore(ctx.layout.secrets_file)
    roles = list(INTERNAL_ROLES) + list(ctx.plan.roles.login)
    created = [r for r in roles if store.ensure(store.password_key(r))]
    changed_pgpass = write_passfile(ctx, store)
    os.chmod(ctx.layout.secrets_file, 0o600)
    detail = f"generated {len(created)} passwords" if created else "all present"
    return bool(created or changed_pgpass), f"{detail} ({ctx.layout.secrets_file}, 0600)"


def ensure_certificates(ctx: Context) -> tuple[bool, str]:
    lay = ctx.layout
    uid = process.os_user(ctx.local.os_user).pw_uid
    changed = ensure_tls(lay.ca_cert, lay.ca_key, lay.server_cert, lay.server_key, uid)
    if not changed:
        return False, "CA and server certificate valid"
    reloaded = tls_ops.reload_servers(ctx)  # running servers take the new files (no restart)
    return True, "issued CA and server certificate" + (
        f"; reloaded {', '.join(reloaded)}" if reloaded else "")


# --- servers ---------------------------------------------------------------------------

def ensure_etcd(ctx: Context) -> tuple[bool, str]:
    return etcd_cluster.ensure(ctx)


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
        # It holds three passwords: atomically, 0600 and Patroni's user's before a byte.
        if not write_atomic(path, text, 0o600, owner=uid):
            continue
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


def _running(m) -> bool:
    """PostgreSQL accepts connections: Patroni answers during a rebuild or restart too."""
    st = PatroniAPI(m).status()
    return st is not None and st.running


def ensure_member(ctx: Context, m) -> tuple[bool, str]:
    svc = patroni.service(ctx.local, ctx.layout, m)
    pid, started = process.start(svc)
    log = str(svc.logfile)

    # PostgreSQL is up, whatever its role: after a full stop the former leader may be
    # started later, and only it may lead (synchronous mode); the replication step
    # waits for the whole cluster.
    if not wait_until(lambda: _running(m), 120 if started else 30):
        if not process.running_pid(svc):
            raise StepError(f"member {m.name}", "Patroni exited", log)
        lead = cluster.leader_name(ctx)
        if lead is None or lead == m.name:
            raise StepError(f"member {m.name}", "PostgreSQL is not running after waiting", log)
        heal.reinit(ctx, m.name, f"PostgreSQL not running after waiting ({lead} leads)")
    st = PatroniAPI(m).status()
    role = st.role if st else "?"
    return started, f"{'started' if started else 'running'} as {role} (patroni pid {pid})"


def ensure_parameters(ctx: Context) -> tuple[bool, str]:
    """Patch Patroni's DCS configuration to the plan, then restart members that need it
    (standbys first): the parameters resource, converge/parameters.py."""
    return parameters.converge(ctx)


def wait_replication(ctx: Context) -> tuple[bool, str]:
    """Every member streams; with two zones, one of them is the synchronous standby."""
    sync_wanted = dcs_config(ctx.plan)["synchronous_mode"]

    def healthy() -> bool:
        state = cluster.observe(ctx)
        if state.names != {m.name for m in ctx.members}:
            return False
        if not all(m.leads if m.role is cluster.Role.LEADER else m.streaming
                   for m in state.members):
            return False
        return not sync_wanted or bool(state.with_role(cluster.Role.SYNC_STANDBY))

    if not wait_until(healthy, 90, 0.5):
        raise StepError("replication", "members are not all streaming (see `billdb status`)",
                        str(ctx.layout.state_dir / "members"))
    n = len(ctx.members)
    sync = ", synchronous standby present" if sync_wanted else ""
    return False, f"{n} members streaming{sync}"


# --- database objects: each step applies one converge resource's drifts ----------------

def ensure_roles(ctx: Context) -> tuple[bool, str]:
    store = SecretStore(ctx.layout.secrets_file)
    want = role_resource.desired(ctx.plan)
    with cluster.admin_connect(ctx) as conn:
        drifts = diff(role_resource.checks(want, role_resource.observe(conn, list(want))))
        notes = role_resource.apply(conn, want, drifts)
        passwords = {r: store.role_password(r) for r in ctx.plan.roles.login}
        reset = role_resource.converge_passwords(conn, passwords)
        if reset:
            notes.append(f"set passwords of {', '.join(reset)}")
        if drifts:
            require_converged("roles", diff(role_resource.checks(
                want, role_resource.observe(conn, list(want)))))
    return bool(notes), "; ".join(notes) if notes else f"{len(want)} roles as planned"


def ensure_database(ctx: Context) -> tuple[bool, str]:
    db = ctx.plan.database
    want = db_resource.desired(ctx.plan)
    with cluster.admin_connect(ctx) as conn:
        drifts = diff(db_resource.checks(want, db_resource.observe(conn, db.name)))
        if not drifts:
            return False, f"{db.name} as planned"
        db_resource.apply(conn, ctx.plan, drifts)
        require_converged("database", diff(db_resource.checks(
            want, db_resource.observe(conn, db.name))))
    if any(d.id == "db.exists" for d in drifts):
        return True, f"created {db.name} ({db.encoding}, {db.lc_collate}, {db.timezone})"
    return True, f"settings repaired ({', '.join(ids(drifts))})"


def ensure_extensions(ctx: Context) -> tuple[bool, str]:
    wanted = db_resource.desired_extensions(ctx.plan)
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        drifts = diff(db_resource.extension_checks(wanted, db_resource.observe_extensions(conn)))
        created = db_resource.apply_extensions(conn, drifts)
        require_converged("extensions", diff(db_resource.extension_checks(
            wanted, db_resource.observe_extensions(conn))))
    return bool(created), (f"created {', '.join(created)}" if created
                           else f"{', '.join(wanted)} present")


def ensure_privileges(ctx: Context) -> tuple[bool, str]:
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name, autocommit=False) as conn:
        drifts, notes = priv_resource.converge(conn, ctx.plan, "privileges")
    if not drifts:
        return False, "least privilege as planned"
    return True, f"privileges repaired: {'; '.join(notes)} ({', '.join(ids(drifts)[:5])})"


def apply_migrations(ctx: Context) -> tuple[bool, str]:
    migrations = sqlfiles.migrations()
    want = schema_resource.desired(migrations, expected_schema.expected(ctx, migrations,
                                                                        save=True))
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name, autocommit=False) as conn:
        applied_now = schema_resource.apply_pending(conn, ctx.plan.roles.owner, migrations, want)
        drifts = diff(schema_resource.checks(want, schema_resource.observe(conn)))
        conn.commit()
    require_converged("migrations", drifts)
    total = len(migrations)
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
    changed = appconfig.write_profile(ctx) or changed  # what billdb-client reads
    return changed, f"write -> {write}, read -> {read or write}"
