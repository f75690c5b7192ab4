"""Connections to the members: libpq URIs with verified TLS and a passfile, never a password."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import psycopg

from billdb.errors import BilldbError
from billdb.layout import Layout


def uri(layout: Layout, *, user: str, dbname: str, ports: list[int],
        target_session_attrs: str | None = None, extra: dict[str, str] | None = None) -> str:
    """A libpq URI for `user` on one or more loopback ports (multi-host for routing)."""
    hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
    params = {
        "sslmode": "verify-full",
        "sslrootcert": str(layout.ca_cert),
        "passfile": str(layout.pgpass),
        "connect_timeout": "5",
        "application_name": "billdb",
    }
    if target_session_attrs:
        params["target_session_attrs"] = target_session_attrs
    params.update(extra or {})
    return f"postgresql://{quote(user)}@{hosts}/{quote(dbname)}?{urlencode(params, safe='/')}"


def attempt(conninfo: str = "", *, autocommit: bool = True, **kwargs) -> psycopg.Connection:
    """The one place billdb opens a connection. psycopg's own error reaches the caller: for a
    check whose finding is the refusal itself (plaintext refused, a probe that failed)."""
    return psycopg.connect(conninfo, autocommit=autocommit, **kwargs)


def connect(conninfo: str, *, autocommit: bool = True, what: str = "server",
            **kwargs) -> psycopg.Connection:
    """A connection, or a BilldbError that names `what` could not be reached."""
    try:
        return attempt(conninfo, autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BilldbError(f"cannot connect to the {what}: {first}") from None
