"""`billdb up` steps for backups: storage (config, repos, Azurite) before the cluster, then the
stanza, a `pgbackrest check` and a first full backup in each repository after it.

The storage comes first because archive_mode/archive_command are cluster parameters: from the
first WAL segment on, every primary pushes to both repositories.
"""

from __future__ import annotations

import os
from pathlib import Path

from billdb.context import Context
from billdb.converge import pgbackrest as backup_resource
from billdb.engines import azurite, process
from billdb.errors import StepError
from billdb.ops.backup import common, physical
from billdb.render.pgbackrest import azure_container
from billdb.state import cluster


def _dirs(ctx: Context) -> list[tuple[Path, int, bool]]:
    """(path, mode, owned by the server's OS user)."""
    p = common.paths(ctx)
    out = [(p.root, 0o750, True), (p.repo1, 0o750, True), (p.log_dir, 0o750, True),
           (p.spool_dir, 0o750, True), (p.lock_dir, 0o750, True),
           (p.scheduler_dir, 0o755, False), (p.dumps_dir, 0o700, False),
           (p.restores_dir, 0o755, False)]
    for m in ctx.local.members:  # each member's own archive queue and lock
        out += [(p.member_spool(m.name), 0o750, True), (p.member_lock(m.name), 0o750, True)]
    if ctx.local.backup.geo_repo == "azurite":
        out += [(p.azurite_dir, 0o750, True), (p.azurite_data, 0o750, True)]
    else:
        out.append((p.geo_dir, 0o750, True))
    return out


def write_config(ctx: Context) -> bool:
    """pgbackrest.conf from the plan; postgres 0640 (it holds the passphrases)."""
    want = backup_resource.desired(ctx.plan, ctx.layout, common.repo_secrets(ctx))
    pw = process.os_user(ctx.local.os_user)
    return backup_resource.apply(common.paths(ctx).config, want, pw.pw_uid, pw.pw_gid)


def ensure_storage(ctx: Context) -> tuple[bool, str]:
    made = []
    for path, mode, owned in _dirs(ctx):
        if not path.exists():
            path.mkdir(parents=True, mode=mode)
            made.append(path.name)
        os.chmod(path, mode)
        if owned:
            process.chown_tree(path, ctx.local.os_user)
    new_secrets = common.ensure_secrets(ctx)
    notes = []
    if made:
        notes.append(f"created {', '.join(made)}")
    if new_secrets:
        notes.append(f"generated {len(new_secrets)} secrets")
    if write_config(ctx):
        notes.append("wrote pgbackrest.conf")
    if ctx.local.backup.geo_repo == "azurite":
        notes += _ensure_azurite(ctx)
        where = f"repo2 Azurite on port {ctx.local.backup.azurite_port}"
    else:
        where = f"repo2 {common.paths(ctx).geo_dir}"
    detail = "; ".join(notes) if notes else "config as planned"
    return bool(notes), f"{detail} (repo1 {common.paths(ctx).repo1}, {where})"


def _ensure_azurite(ctx: Context) -> list[str]:
    if not azurite.executable().exists():
        raise StepError("backup storage", f"{azurite.executable()} is missing: run `make up` "
                        "(scripts/install.sh installs azurite with npm)")
    key = common.azure_key(ctx)
    svc = azurite.service(ctx.local, ctx.layout, key)
    pid, started = process.start(svc)
    port = ctx.local.backup.azurite_port
    if not azurite.wait_listening(port, 30):
        raise StepError("backup storage", f"Azurite does not listen on {port}", str(svc.logfile))
    notes = [f"started Azurite (pid {pid})"] if started else []
    if azurite.ensure_container(port, key, azure_container(ctx.plan), ctx.layout.ca_cert):
        notes.append(f"created container {azure_container(ctx.plan)}")
    return notes


def ensure_stanza(ctx: Context) -> tuple[bool, str]:
    """stanza-create (idempotent), `pgbackrest check`, and a first full backup per repo."""
    eng = common.engine(ctx)
    before = eng.stanza_info()
    existed = bool(before) and before.get("status", {}).get("code") != 1
    eng.stanza_create()
    notes = [] if existed else [f"created stanza {eng.stanza}"]
    if not existed:
        # WAL of the bootstrap could not be pushed before the stanza existed: those expected
        # failures are cleared from pg_stat_archiver; the check below archives a segment.
        with cluster.admin_connect(ctx) as conn:
            conn.execute("SELECT pg_stat_reset_shared('archiver')")
    eng.check()
    have = physical.full_backups_by_repo(eng.stanza_info())
    for repo in common.REPOS:
        if not have.get(repo):
            physical.backup_repo(ctx, eng, "full", repo)
            notes.append(f"first full backup in repo{repo}")
    detail = "; ".join(notes) if notes else f"stanza {eng.stanza} ok, full backups in repo1+repo2"
    return bool(notes), f"{detail}; check passed"
