"""The connection profile: the small JSON file the client is configured from (never the plan).

`billdb up` writes `<state_dir>/client-profile.json`; `billdb app-config --format client-json`
prints the same document for any environment. It holds routes, roles, pool settings, the CA
and passfile paths and the encrypted columns; no password, no key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from billdb_client.errors import ClientError

VERSION = 1


class ProfileError(ClientError):
    """The profile is missing, not JSON, or lacks a field the client needs."""


def _get(doc: dict[str, Any], path: str, kind: type | tuple[type, ...], where: Path) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise ProfileError(f"{where}: field {path!r} is missing")
        cur = cur[part]
    if not isinstance(cur, kind):
        raise ProfileError(f"{where}: field {path!r} must be {kind}, not {type(cur).__name__}")
    return cur


def load(path: str | Path) -> dict[str, Any]:
    """The profile at `path`, checked for every field the client reads."""
    where = Path(path)
    try:
        doc = json.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read the connection profile {where}: {exc.strerror}") \
            from None
    except ValueError as exc:
        raise ProfileError(f"{where} is not JSON: {exc}") from None
    return check(doc, where)


def check(doc: Any, where: Path) -> dict[str, Any]:
    """`doc` when it has every field the client reads; ProfileError naming the first gap."""
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise ProfileError(f"{where}: field 'version' must be {VERSION}")
    for field, kind in (("dbname", str), ("roles.write", str), ("roles.read", str),
                        ("routes.write", list), ("routes.read", list), ("sslrootcert", str),
                        ("pool.size", int), ("pool.connection_timeout_s", int),
                        ("pool.idle_timeout_s", int), ("pool.max_lifetime_s", int),
                        ("encrypted_columns", dict), ("max_lag_bytes", int)):
        _get(doc, field, kind, where)
    return doc
