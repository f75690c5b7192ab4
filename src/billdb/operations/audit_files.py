"""Audit controls on files (CIS PostgreSQL 15 §1-2: file permissions and ownership).

The data directories, server logs, secrets, keys and generated configs must be readable by
their owner only: a world-readable secrets file hands out every role's password.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from billdb.context import Context
from billdb.converge import pgbackrest as backup_resource
from billdb.operations.results import control
from billdb.ops.backup import common

REF = "CIS 2 directory and file permissions"


def _owner(st: os.stat_result) -> str:
    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return str(st.st_uid)


def _mode_control(id: str, title: str, path: Path, max_mode: int,
                  owners: set[str]) -> dict[str, Any]:
    """Pass when the file exists, has no permission bit beyond max_mode, and the owner fits."""
    if not path.exists():
        return control(id, title, REF, False, f"{path}: missing")
    st = path.stat()
    mode = st.st_mode & 0o777
    owner = _owner(st)
    ok = (mode & ~max_mode) == 0 and owner in owners
    return control(id, title, REF, ok, f"{path}: mode {mode:04o} (at most {max_mode:04o}), "
                   f"owner {owner} (expected {'/'.join(sorted(owners))})")


def controls(ctx: Context) -> Iterator[dict[str, Any]]:
    lay = ctx.layout
    pg = ctx.local.os_user
    me = _owner(lay.state_dir.stat()) if lay.state_dir.exists() else "root"
    yield _mode_control("files.secrets_file", "secrets file 0600, owned by billdb's user",
                        lay.secrets_file, 0o600, {me})
    yield _mode_control("files.secrets_dir", "secrets directory 0700", lay.secrets_dir,
                        0o700, {me})
    yield _mode_control("files.pgpass", "administrator passfile 0600", lay.pgpass, 0o600, {me})
    yield _mode_control("files.ca_key", "CA private key 0600", lay.ca_key, 0o600, {me})
    yield _mode_control("files.server_key", "server TLS key 0600, owned by the server user",
                        lay.server_key, 0o600, {pg})
    yield _mode_control("files.pgbackrest_conf", "pgBackRest config (passphrases) 0640",
                        common.paths(ctx).config, backup_resource.MODE, {pg})
    yield _mode_control("files.run_dir", "private socket directory, no world access",
                        lay.run_dir, 0o770, {pg, me})
    for m in ctx.members:
        paths = lay.member(m.name)
        yield _mode_control(f"files.{m.name}.data_dir", f"{m.name}: data directory 0700",
                            paths.data, 0o750, {pg})
        yield _mode_control(f"files.{m.name}.patroni_config",
                            f"{m.name}: Patroni config (passwords) 0600", paths.config,
                            0o600, {pg, me})
        yield _log_files(m.name, paths.pg_log_dir, pg)


def _log_files(member: str, log_dir: Path, pg: str) -> dict[str, Any]:
    """Server log files hold statements and user names: owner-only (log_file_mode 0600)."""
    title = f"{member}: server log files 0600"
    if not log_dir.is_dir():
        return control(f"files.{member}.log_files", title, REF, False, f"{log_dir}: missing")
    bad = [f"{p.name} {p.stat().st_mode & 0o777:04o}" for p in log_dir.iterdir()
           if p.is_file() and (p.stat().st_mode & 0o077 or _owner(p.stat()) != pg)]
    n = sum(1 for p in log_dir.iterdir() if p.is_file())
    return control(f"files.{member}.log_files", title, REF, not bad,
                   f"{log_dir}: {n} files" + (f", too open: {', '.join(bad[:5])}" if bad
                                              else ", all 0600 owned by " + pg))
