"""Column encryption (§10.2): the plan's columns are the ones the client seals, the keyring has
an active 256-bit key, and every stored value is a ciphertext envelope under a known key."""

from __future__ import annotations

from collections.abc import Iterator

from billdb.client.crypto import ENCRYPTED_COLUMNS
from billdb.context import Context
from billdb.errors import BilldbError
from billdb.ops import keys
from billdb.ops.verify.check import Check, equal

S_ENC = "§10.2 column encryption"


def checks(ctx: Context) -> Iterator[Check]:
    planned = sorted(ctx.plan.security.column_encryption.columns)
    yield equal("encryption.columns", S_ENC, planned, sorted(ENCRYPTED_COLUMNS))
    try:
        ring = keys.keyring(ctx)
    except Exception as exc:  # a missing or malformed keyring is a finding, not a crash
        yield Check("encryption.keyring", S_ENC, "an active AES-256 key", str(exc), False)
        return
    yield Check("encryption.keyring", S_ENC, "an active AES-256 key",
                f"active {ring.active}, {len(ring.keys)} keys (ids only)", True)
    try:
        counts = keys.key_counts(ctx)
    except BilldbError as exc:
        yield Check("encryption.values", S_ENC, "readable", str(exc), False)
        return
    for column, by_key in counts.items():
        bad = {k: n for k, n in by_key.items() if k not in ring.keys}
        summary = ", ".join(f"{k}: {n}" for k, n in by_key.items()) or "no values yet"
        yield Check(f"encryption.{column}", S_ENC, "only ciphertext under keyring keys",
                    summary, not bad)
