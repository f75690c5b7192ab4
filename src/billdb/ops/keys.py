"""Column-encryption keys: created by `billdb up`, rotated by `billdb keys rotate`.

Rotation without downtime: the new key becomes active first (running clients reread the
keyring within a second and seal new values with it), then every value still sealed with an
older key is re-encrypted in small batches, each its own short transaction, with a
compare-and-set UPDATE so a concurrent write by the service always wins. Sweeps repeat until
one finds nothing left under an old key. Old keys stay in the keyring (retired, never used to
seal) so backups taken before the rotation can still be read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from billdb import sql as sqlfiles
from billdb.client.crypto import (
    ENCRYPTED_COLUMNS,
    SECRET_NAME,
    DecryptionError,
    FieldCipher,
    Keyring,
    KeyringFile,
    context,
)
from billdb.context import Context
from billdb.engines import postgres
from billdb.engines.secrets import SecretStore
from billdb.errors import BilldbError
from billdb.ops import cluster

WRITE_ROLE = "bill_app_user"  # the service's DML role does the re-encryption (least privilege)
MAX_SWEEPS = 5


def _secrets(store: SecretStore) -> dict[str, str]:
    return {SECRET_NAME: store.get(SECRET_NAME)} if store.has(SECRET_NAME) else {}


def keyring(ctx: Context) -> Keyring:
    return Keyring.from_secrets(_secrets(SecretStore(ctx.layout.secrets_file)))


def ensure_keyring(ctx: Context) -> tuple[bool, str]:
    """The `column keys` step of `up`: a first key when there is none."""
    store = SecretStore(ctx.layout.secrets_file)
    if store.has(SECRET_NAME):
        ring = Keyring.from_secrets(_secrets(store))
        return False, f"active key {ring.active} ({len(ring.keys)} in the keyring)"
    store.put(SECRET_NAME, Keyring.first().to_secret())
    return True, "generated column key k1 (AES-256) in the secrets store"


def _composed(name: str, column: str) -> sql.Composed:
    table, col = column.split(".")
    return sql.SQL(sqlfiles.load(f"keys/{name}")).format(
        table=sql.Identifier(table), column=sql.Identifier(col),
        row_key=sql.Identifier(ENCRYPTED_COLUMNS[column]))


def _app_connect(ctx: Context) -> psycopg.Connection:
    zones = [m.port for m in ctx.members if m.kind == "zone"]
    uri = postgres.uri(ctx.layout, user=WRITE_ROLE, dbname=ctx.plan.database.name, ports=zones,
                       target_session_attrs="read-write")
    return postgres.connect(uri, autocommit=False, what="primary")


def key_counts(ctx: Context) -> dict[str, dict[str, int]]:
    """For each encrypted column: key id -> number of values sealed with it."""
    out: dict[str, dict[str, int]] = {}
    with cluster.admin_connect(ctx, dbname=ctx.plan.database.name) as conn:
        for column in ENCRYPTED_COLUMNS:
            out[column] = dict(conn.execute(_composed("key_counts", column)).fetchall())
    return out


def _reencrypt_column(conn: psycopg.Connection, column: str, cipher: FieldCipher, active: str,
                      batch: int, progress: Callable[[str], None],
                      unreadable: list[str]) -> tuple[int, int]:
    """One sweep over a column: (values re-encrypted, batches). A value that does not open
    (damaged, or moved from another row) is left as it is and its row key reported."""
    select, update = _composed("rotate_batch", column), _composed("rotate_update", column)
    after, done, batches = "", 0, 0
    while True:
        rows = conn.execute(select, {"active": active, "after": after, "batch": batch}).fetchall()
        conn.commit()
        if not rows:
            return done, batches
        params = []
        for row_key, old in rows:
            aad = context(column, row_key)
            try:
                params.append({"row_key": row_key, "old": old,
                               "new": cipher.seal(cipher.open(old, aad), aad)})
            except DecryptionError:
                if f"{column}:{row_key}" not in unreadable:
                    unreadable.append(f"{column}:{row_key}")
        if params:
            with conn.cursor() as cur:
                cur.executemany(update, params)
            conn.commit()
        done += len(params)
        batches += 1
        after = rows[-1][0]
        if batches % 20 == 0:
            progress(f"{column}: {done} values re-encrypted")


def rotate(ctx: Context, batch: int = 500, progress: Callable[[str], None] = lambda m: None,
           settle_s: float | None = None) -> dict[str, Any]:
    if batch < 1:
        raise BilldbError("--batch must be at least 1")
    t0 = time.monotonic()
    store = SecretStore(ctx.layout.secrets_file)
    old = Keyring.from_secrets(_secrets(store))
    counts = {c: 0 for c in ENCRYPTED_COLUMNS}
    batches = sweeps = 0
    unreadable: list[str] = []
    with _app_connect(ctx) as conn:  # reach the primary before changing anything
        new_ring = old.rotated()
        new_id = new_ring.active
        store.put(SECRET_NAME, new_ring.to_secret())
        progress(f"key {new_id} is active; waiting for running clients to pick it up")
        time.sleep(KeyringFile.CHECK_EVERY_S + 1.0 if settle_s is None else settle_s)
        cipher = FieldCipher(new_ring)
        for sweeps in range(1, MAX_SWEEPS + 1):  # noqa: B007 - reported below
            found = 0
            for column in ENCRYPTED_COLUMNS:
                n, b = _reencrypt_column(conn, column, cipher, new_id, batch, progress,
                                         unreadable)
                counts[column] += n
                batches += b
                found += n
            if found == 0:
                break
    after = key_counts(ctx)
    remaining = {c: sum(n for k, n in by_key.items() if k != new_id) for c, by_key in after.items()}
    seconds = time.monotonic() - t0
    total = sum(counts.values())
    return {
        "ok": not any(remaining.values()),
        "new_key": new_id,
        "previous_keys": old.ids(),
        "reencrypted": counts,
        "unreadable": unreadable[:20],
        "remaining_under_old_keys": remaining,
        "values_by_key": after,
        "batch_size": batch,
        "batches": batches,
        "sweeps": sweeps,
        "seconds": round(seconds, 2),
        "values_per_s": round(total / seconds, 1) if seconds > 0 else None,
    }


def status(ctx: Context) -> dict[str, Any]:
    ring = keyring(ctx)
    counts = key_counts(ctx)
    stale = {c: sum(n for k, n in by.items() if k != ring.active) for c, by in counts.items()}
    unknown = sorted({k for by in counts.values() for k in by if k not in ring.keys})
    return {"ok": not unknown, "active_key": ring.active,
            "keys": ring.ids(),
            "values_by_key": counts, "under_old_keys": stale, "unknown_keys": unknown}
