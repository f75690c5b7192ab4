"""SCRAM-SHA-256 verifiers: set passwords without the clear text reaching the server, and
check a stored verifier against a password without logging in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return stored_key, server_key


def verifier(password: str, iterations: int = 4096) -> str:
    salt = os.urandom(16)
    stored, server = _keys(password, salt, iterations)
    enc = base64.b64encode
    return (f"SCRAM-SHA-256${iterations}:{enc(salt).decode()}"
            f"${enc(stored).decode()}:{enc(server).decode()}")


def matches(stored_verifier: str | None, password: str) -> bool:
    """True when `stored_verifier` (pg_authid.rolpassword) was made from `password`."""
    if not stored_verifier or not stored_verifier.startswith("SCRAM-SHA-256$"):
        return False
    try:
        head, keys = stored_verifier[len("SCRAM-SHA-256$"):].split("$", 1)
        iterations, salt = head.split(":", 1)
        stored_b64, server_b64 = keys.split(":", 1)
        stored, server = _keys(password, base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(stored, base64.b64decode(stored_b64)) and hmac.compare_digest(
        server, base64.b64decode(server_b64))
