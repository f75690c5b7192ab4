"""billdb_client.crypto, plus the plan's encrypted columns for the ops tool (keys, verify)."""

from billdb_client.crypto import *  # noqa: F403
from billdb_client.crypto import (  # noqa: F401
    ENVELOPE_RE,
    KEY_ID_RE,
    NONCE_BYTES,
    SECRET_NAME,
    VERSION,
    DecryptionError,
    FieldCipher,
    Keyring,
    KeyringFile,
    context,
    key_id_of,
)

# The encrypted columns (plan security.column_encryption.columns, §10.2) and, for each, the
# column whose value binds a ciphertext to its row. The client reads them from its profile.
ENCRYPTED_COLUMNS: dict[str, str] = {
    "customer_info.customer_name": "customer_id",
    "bill_inquiry_history.bill_info_json": "request_id",
    "bill_info_cache.bill_info_json": "cache_key",
}
