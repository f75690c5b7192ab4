"""A TLS handshake with a PostgreSQL-protocol port (PostgreSQL or PgBouncer) through Python's
own `ssl`, as a strict client does: the protocol's SSLRequest, then the handshake. Used by the
audit and the tests to judge what a port accepts, independently of libpq."""

from __future__ import annotations

import socket
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


@dataclass(frozen=True)
class Handshake:
    ok: bool
    detail: str  # the version and suite, or why it failed
    version: str | None = None
    cipher: str | None = None


def context(cafile: Path, *, strict: bool = True, tls12_ciphers: str | None = None,
            tls12_only: bool = False) -> ssl.SSLContext:
    """A verifying client context (hostname checked); `strict` adds VERIFY_X509_STRICT, as
    Python 3.13's default context does."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    if strict:
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if tls12_ciphers:
        ctx.set_ciphers(tls12_ciphers)
    return ctx


def handshake(port: int, ctx: ssl.SSLContext, host: str = "127.0.0.1",
              server_name: str = "localhost", timeout: float = 5.0) -> Handshake:
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            raw.sendall(SSL_REQUEST)
            if raw.recv(1) != b"S":
                return Handshake(False, "the server refused TLS")
            with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                name, version, _ = tls.cipher() or ("", "", 0)
                return Handshake(True, f"{version} {name}", version, name)
    except (OSError, ssl.SSLError) as exc:
        return Handshake(False, f"{type(exc).__name__}: {exc}"[:240])
