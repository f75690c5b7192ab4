"""Generated secrets, kept in one 0600 JSON file outside git, never printed.

A pgpass file beside it lets libpq clients (psql, psycopg, pg_dump) authenticate without a
password ever appearing in a URI, an argument list or a log.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from billdb.errors import BilldbError
from billdb.fsutil import write_atomic

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def generate_password(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _write_private(path: Path, text: str, owner: int | None = None) -> bool:
    """Write a file that only its owner can read, atomically (billdb.fsutil)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return write_atomic(path, text, 0o600, owner)


class SecretStore:
    """Named secrets (role passwords, passphrases, keys) in a 0600 JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, str] = {}
        if path.exists():
            try:
                self._data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BilldbError(f"{path}: unreadable secrets file: {exc}") from None

    def get(self, name: str) -> str:
        try:
            return self._data[name]
        except KeyError:
            raise BilldbError(
                f"no secret '{name}' in {self.path}: run `billdb up` to generate it"
            ) from None

    def has(self, name: str) -> bool:
        return name in self._data

    def ensure(self, name: str, factory=generate_password) -> bool:
        """Create the secret if missing; True when it was created."""
        if name in self._data:
            return False
        self._data[name] = factory()
        self.save()
        return True

    def put(self, name: str, value: str) -> None:
        self._data[name] = value
        self.save()

    def discard(self, name: str) -> None:
        if self._data.pop(name, None) is not None:
            self.save()

    def save(self) -> None:
        _write_private(self.path, json.dumps(self._data, indent=2, sort_keys=True) + "\n")

    def password_key(self, role: str) -> str:
        return f"role:{role}"

    def role_password(self, role: str) -> str:
        return self.get(self.password_key(role))


def write_pgpass(path: Path, entries: dict[str, str], owner_uid: int | None = None) -> bool:
    """Write `*:*:*:role:password` lines; True when the file changed."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace(":", "\\:")

    text = "".join(f"*:*:*:{esc(role)}:{esc(pw)}\n" for role, pw in sorted(entries.items()))
    return _write_private(path, text, owner_uid)
