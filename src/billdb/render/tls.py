"""The TLS policy of every port billdb opens (PostgreSQL, PgBouncer): Mozilla's
"intermediate" profile (docs/tls.md), and the certificate lifetimes. Pure.

TLS 1.3 suites are OpenSSL's defaults (AES-GCM and ChaCha20), which the profile names as they
are. For TLS 1.2 only ECDHE key exchange with an AEAD cipher (AES-GCM or ChaCha20-Poly1305) is
offered: no CBC, CCM, CAMELLIA or ARIA, no finite-field DHE. The ECDSA suites are the ones our
EC keys use; the RSA ones stay for a certificate of another kind.
"""

from __future__ import annotations

import ssl

TLS12_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
))
# PostgreSQL (before 18) and PgBouncer (1.24: one OpenSSL short name, tried here) each take
# one curve; P-256 is in the profile. PgBouncer's default `auto` offers X448 and P-521 too.
ECDH_CURVE = "prime256v1"
PROFILE_CURVES = ("X25519", "prime256v1", "secp384r1")
SERVER_CERT_DAYS = 365  # the profile's and browsers' limit is under 366 (397 the CA/B's)
RENEW_AFTER = 2 / 3  # of a server certificate's life: renewed then, with a reload
CA_DAYS = 3650


def tls12_suites(cipher_string: str) -> list[str]:
    """The TLS 1.2 suites an OpenSSL cipher string admits (TLS 1.3 suites are not set by it);
    [] when OpenSSL rejects the string."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.set_ciphers(cipher_string)
    except ssl.SSLError:
        return []
    return [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]


def weak_tls12_suites(cipher_string: str) -> list[str]:
    """The admitted TLS 1.2 suites outside the profile: anything but ECDHE with AES-GCM or
    ChaCha20-Poly1305."""
    return [name for name in tls12_suites(cipher_string)
            if not (name.startswith("ECDHE-") and ("-GCM-" in name or "CHACHA20" in name))]
