"""Column-encryption keys: created by `billdb up`, rotated by `billdb keys rotate`.

Rotation without downtime: the new key becomes active first (running clients reread the
keyring within a second and seal new values with it), then every value still sealed with an
older key is re-encrypted in small batches, each its own short transaction, with a
compare-and-set UPDATE so a concurrent write by the service always wins. Sweeps repeat until
one finds nothing left under an old key. Old keys stay in the keyring (retired, never used to
seal) so backups taken before the rotation can still be read.

Journaled (billdb.ops.journal): `activate key`, `settle`, `re-encrypt`, each resumable. The new
key's id is chosen once, when the journal opens, and `activate key` adds it only while the
previous key is still active, so a rerun after a kill never adds a second new key; the
re-encryption carries on with whatever is still sealed with an older key.
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
from billdb.ops import journal
from billdb.state import cluster

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
            journal.checkpoint("re-encrypt:batch")  # test hook: a kill between two batches
        done += len(params)
        batches += 1
        after = rows[-1][0]
        if batches % 20 == 0:
            progress(f"{column}: {done} values re-encrypted")


def _activate(ctx: Context, j: journal.Journal) -> str:
    """Resumable: the key planned when the journal opened becomes active, once; a rerun
    that finds it active already adds nothing (so a kill never leaves a second new key)."""
    store = SecretStore(ctx.layout.secrets_file)
    ring = Keyring.from_secrets(_secrets(store))
    new_id, previous = j.data["new_key"], j.data["previous_active"]
    if ring.active == new_id:
        return f"key {new_id} was already active"
    if ring.active != previous or ring.next_id() != new_id:
        raise BilldbError(f"the keyring changed during this rotation (active {ring.active}, "
                          f"expected {previous} or {new_id}): check `billdb keys status`")
    store.put(SECRET_NAME, ring.rotated().to_secret())
    return f"key {new_id} is active"


def _sweep(ctx: Context, j: journal.Journal, batch: int, progress: Callable[[str], None],
           tally: dict[str, Any]) -> str:
    """Resumable: re-encrypt whatever is still sealed with an older key (compare-and-set),
    so a rerun after a kill carries on with what the killed run had not done."""
    ring = Keyring.from_secrets(_secrets(SecretStore(ctx.layout.secrets_file)))
    if ring.active != j.data["new_key"]:
        raise BilldbError(f"key {j.data['new_key']} is not the active key any more")
    cipher = FieldCipher(ring)
    with _app_connect(ctx) as conn:
        for sweeps in range(1, MAX_SWEEPS + 1):
            found = 0
            for column in ENCRYPTED_COLUMNS:
                n, b = _reencrypt_column(conn, column, cipher, ring.active, batch, progress,
                                         tally["unreadable"])
                tally["counts"][column] += n
                tally["batches"] += b
                found += n
            tally["sweeps"] = sweeps
            if found == 0:
                break
    return f"{sum(tally['counts'].values())} values re-encrypted in {tally['sweeps']} sweeps"


def rotate(ctx: Context, batch: int = 500, progress: Callable[[str], None] = lambda m: None,
           settle_s: float | None = None) -> dict[str, Any]:
    """Journaled: steps `activate key` -> `settle` -> `re-encrypt`, each resumable."""
    if batch < 1:
        raise BilldbError("--batch must be at least 1")
    t0 = time.monotonic()
    tally: dict[str, Any] = {"counts": {c: 0 for c in ENCRYPTED_COLUMNS}, "batches": 0,
                             "sweeps": 0, "unreadable": []}
    wait = KeyringFile.CHECK_EVERY_S + 1.0 if settle_s is None else settle_s

    def prepare() -> dict[str, Any]:
        with _app_connect(ctx):  # reach the primary before changing anything
            pass
        old = keyring(ctx)
        return {"previous_active": old.active, "previous_keys": old.ids(),
                "new_key": old.next_id()}

    def settle(_j: journal.Journal) -> str:
        progress(f"key {_j.data['new_key']} is active; waiting for running clients to pick "
                 "it up")
        time.sleep(wait)
        return f"waited {wait:.1f} s"

    j, record = journal.run(
        journal.directory(ctx.layout.state_dir), "keys rotate", {"batch": batch},
        [journal.Step("activate key", lambda j: _activate(ctx, j)),
         journal.Step("settle", settle),
         journal.Step("re-encrypt", lambda j: _sweep(ctx, j, batch, progress, tally))],
        command=f"billdb keys rotate --batch {batch}", prepare=prepare, progress=progress)
    new_id = j.data["new_key"]
    after = key_counts(ctx)
    remaining = {c: sum(n for k, n in by_key.items() if k != new_id) for c, by_key in after.items()}
    seconds = time.monotonic() - t0
    total = sum(tally["counts"].values())
    return {
        "ok": not any(remaining.values()),
        "new_key": new_id,
        "previous_keys": j.data["previous_keys"],
        "reencrypted": tally["counts"],
        "unreadable": tally["unreadable"][:20],
        "remaining_under_old_keys": remaining,
        "values_by_key": after,
        "batch_size": batch,
        "batches": tally["batches"],
        "sweeps": tally["sweeps"],
        "seconds": round(seconds, 2),
        "values_per_s": round(total / seconds, 1) if seconds > 0 else None,
        "journal": record,
    }


def status(ctx: Context) -> dict[str, Any]:
    ring = keyring(ctx)
    counts = key_counts(ctx)
    stale = {c: sum(n for k, n in by.items() if k != ring.active) for c, by in counts.items()}
    unknown = sorted({k for by in counts.values() for k in by if k not in ring.keys})
    return {"ok": not unknown, "active_key": ring.active,
            "keys": ring.ids(),
            "values_by_key": counts, "under_old_keys": stale, "unknown_keys": unknown}
