"""Where `--env prod` keeps its local state: the generated admin password (0600) and the
apply journal. Default /var/lib/billdb/prod; BILLDB_AZURE_STATE moves it (tests)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from billdb import fsutil

DEFAULT = Path("/var/lib/billdb/prod")


def directory() -> Path:
    d = Path(os.environ.get("BILLDB_AZURE_STATE", DEFAULT))
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def admin_password() -> str:
    """The server admin's password: generated once, kept 0600, never printed."""
    path = directory() / "admin-password"
    if not path.exists():
        fsutil.write_atomic(path, secrets.token_urlsafe(24) + "Aa1!", mode=0o600)
    return path.read_text().strip()
