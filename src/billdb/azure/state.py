"""Where `--env prod` keeps its local state: the generated admin password (0600), the next
one while `azure rotate-admin` runs (0600), and the journal. Default /var/lib/billdb/prod;
BILLDB_AZURE_STATE moves it (tests)."""

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


def _generate() -> str:
    """Azure's complexity rule (three of upper, lower, digit, symbol), 36 characters."""
    return secrets.token_urlsafe(24) + "Aa1!"


def _current() -> Path:
    return directory() / "admin-password"


def _next() -> Path:
    return directory() / "admin-password.next"


def admin_password() -> str:
    """The server admin's password: generated once, kept 0600, never printed."""
    path = _current()
    if not path.exists():
        fsutil.write_atomic(path, _generate(), mode=0o600)
    return path.read_text().strip()


def ensure_next_admin_password() -> bool:
    """The password a rotation sends, made once and kept (0600) before it is sent, so a
    killed rotation resends the same one; True when it was made now."""
    if _next().exists():
        return False
    fsutil.write_atomic(_next(), _generate(), mode=0o600)
    return True


def next_admin_password() -> str | None:
    return _next().read_text().strip() if _next().exists() else None


def promote_next_admin_password() -> bool:
    """The next password becomes the admin's (one rename); False when there is none."""
    if not _next().exists():
        return False
    os.replace(_next(), _current())
    fsutil.fsync_dir(directory())
    return True
