"""Column encryption: AES-256-GCM in the application, so the server only ever holds ciphertext.

A stored value is an envelope ``v1:<key id>:<base64url(nonce | ciphertext | tag)>``. The key
id names the key of the keyring that sealed it, so keys rotate without a flag day: new values
use the active key, old values open with the key they name, and `billdb keys rotate`
re-encrypts old rows in the background. The nonce is random (96 bits) per value.

Each value is bound to its place: the associated data is ``<table>.<column>:<row key>``, so a
ciphertext copied into another row or column does not open (a database writer cannot swap
two customers' bills without the key).

The keys live in the environment's SecretStore (one secret, ``column_keyring``: the key ids, the
256-bit keys and the active id), never in the database, a URI or a log. A running client
rereads the keyring when the file changes (checked at most once a second), so a rotation
reaches every process without a restart.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billdb_client.errors import ClientError

VERSION = "v1"
SECRET_NAME = "column_keyring"
KEY_ID_RE = re.compile(r"^k[0-9]+$")
ENVELOPE_RE = re.compile(r"^v1:(k[0-9]+):([A-Za-z0-9_-]{38,})$")
NONCE_BYTES = 12

class DecryptionError(ClientError):
    """A stored value could not be opened: unknown key, damaged, or moved from another row."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id_of(token: str) -> str | None:
    """The key id named by an envelope, or None when `token` is not one."""
    m = ENVELOPE_RE.match(token)
    return m.group(1) if m else None


def context(column: str, row_key: str) -> bytes:
    """The associated data binding a value to `<table>.<column>` of one row."""
    return f"{column}:{row_key}".encode()


@dataclass(frozen=True)
class Keyring:
    """Key id -> 256-bit key, and the id new values are sealed with."""

    keys: dict[str, bytes]
    active: str

    @classmethod
    def from_secrets(cls, data: dict[str, str]) -> Keyring:
        """The keyring held in the secrets (the `column_keyring` entry)."""
        try:
            doc = json.loads(data[SECRET_NAME])
            active, encoded = doc["active"], doc["keys"]
        except (KeyError, TypeError, ValueError):
            raise ClientError("no column keyring in the secrets store: run `billdb up`") from None
        keys = {}
        for kid, value in encoded.items():
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise ClientError(f"column key {kid} is not base64") from None
            if len(raw) != 32 or not KEY_ID_RE.match(kid):
                raise ClientError(f"column key {kid} is not a 256-bit key with an id k<N>")
            keys[kid] = raw
        if active not in keys:
            raise ClientError("no active column key in the secrets store: run `billdb up`")
        return cls(keys, active)

    @classmethod
    def first(cls) -> Keyring:
        return cls({"k1": AESGCM.generate_key(bit_length=256)}, "k1")

    def rotated(self) -> Keyring:
        """This keyring plus a new random key, which becomes the active one."""
        kid = self.next_id()
        return Keyring({**self.keys, kid: AESGCM.generate_key(bit_length=256)}, kid)

    def to_secret(self) -> str:
        return json.dumps({"active": self.active, "keys": {
            k: base64.b64encode(v).decode("ascii") for k, v in sorted(self.keys.items())}})

    def ids(self) -> list[str]:
        return sorted(self.keys, key=lambda k: int(k[1:]))

    def next_id(self) -> str:
        return f"k{max(int(k[1:]) for k in self.keys) + 1}"


class KeyringFile:
    """The keyring of a secrets file, reread when the file changes (a rotation elsewhere)."""

    CHECK_EVERY_S = 1.0

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._mtime = -1.0
        self._checked = 0.0
        self._ring: Keyring | None = None

    def _load(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
            if mtime != self._mtime or self._ring is None:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._ring, self._mtime = Keyring.from_secrets(data), mtime
        except (OSError, ValueError) as exc:
            if self._ring is None:
                raise ClientError(f"cannot read the column keys from {self.path}: {exc}") \
                    from None

    def get(self, force: bool = False) -> Keyring:
        now = time.monotonic()
        if force or self._ring is None or now - self._checked >= self.CHECK_EVERY_S:
            self._checked = now
            self._load()
        assert self._ring is not None
        return self._ring


class FieldCipher:
    """Seals and opens column values with the keyring's keys."""

    def __init__(self, keyring: KeyringFile | Keyring) -> None:
        self._source = keyring
        self._aead: dict[tuple[str, bytes], AESGCM] = {}

    @classmethod
    def from_secrets_file(cls, path: str | Path) -> FieldCipher:
        return cls(KeyringFile(Path(path)))

    def keyring(self, force: bool = False) -> Keyring:
        src = self._source
        return src.get(force) if isinstance(src, KeyringFile) else src

    def _cipher(self, kid: str, key: bytes) -> AESGCM:
        aead = self._aead.get((kid, key))
        if aead is None:
            aead = self._aead[(kid, key)] = AESGCM(key)
        return aead

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        ring = self.keyring()
        kid = ring.active
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher(kid, ring.keys[kid]).encrypt(nonce, plaintext, aad)
        return f"{VERSION}:{kid}:{_b64e(nonce + sealed)}"

    def open(self, token: str, aad: bytes) -> bytes:
        m = ENVELOPE_RE.match(token)
        if not m:
            raise DecryptionError("the stored value is not a v1 ciphertext envelope")
        kid, body = m.groups()
        ring = self.keyring()
        if kid not in ring.keys:
            ring = self.keyring(force=True)
            if kid not in ring.keys:
                raise DecryptionError(f"the value is sealed with key {kid}, which the keyring "
                                      "does not have")
        raw = _b64d(body)
        try:
            return self._cipher(kid, ring.keys[kid]).decrypt(raw[:NONCE_BYTES],
                                                            raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError("the value does not open with its key here (damaged, or "
                                  "moved from another row)") from None

    def seal_text(self, text: str, aad: bytes) -> str:
        return self.seal(text.encode("utf-8"), aad)

    def open_text(self, token: str, aad: bytes) -> str:
        return self.open(token, aad).decode("utf-8")

    def seal_json(self, obj: Any, aad: bytes) -> str:
        return self.seal(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode(),
                         aad)

    def open_json(self, token: str, aad: bytes) -> Any:
        return json.loads(self.open(token, aad))
