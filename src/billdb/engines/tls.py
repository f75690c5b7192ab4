"""A private CA and a server certificate for loopback, made with `cryptography`.

The CA key stays with root (0600); the server key is handed to the OS user that runs
PostgreSQL (0600). Clients verify the server with the CA (sslmode=verify-full).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from billdb.fsutil import write_atomic

SERVER_NAMES = ["localhost"]
SERVER_IPS = ["127.0.0.1"]
_VALID_DAYS = 825


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int, uid: int | None = None) -> None:
    write_atomic(path, data, mode, uid, only_if_changed=False)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "billdb"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def certificate_ok(cert_path: Path, ca_path: Path) -> bool:
    """True when the server certificate exists, is signed by the CA, covers our names
    and is valid for at least 30 more days."""
    if not (cert_path.exists() and ca_path.exists()):
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception):
        return False
    remaining = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    if remaining < dt.timedelta(days=30):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(san.get_values_for_type(x509.DNSName))
    ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    return set(SERVER_NAMES) <= names and set(SERVER_IPS) <= ips


def ensure_tls(ca_cert: Path, ca_key: Path, server_cert: Path, server_key: Path,
               server_uid: int) -> bool:
    """Create the CA and the server certificate when missing or unfit; True if changed."""
    changed = False
    now = dt.datetime.now(dt.UTC)
    if not (ca_cert.exists() and ca_key.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("billdb local CA"))
            .issuer_name(_name("billdb local CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=False, content_commitment=False,
                              key_encipherment=False, data_encipherment=False,
                              key_agreement=False, key_cert_sign=True, crl_sign=True,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        _write(ca_key, _key_pem(key), 0o600)
        _write(ca_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        changed = True
    if changed or not certificate_ok(server_cert, ca_cert) or not server_key.exists():
        ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        ca_private = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        key = ec.generate_private_key(ec.SECP256R1())
        san = [x509.DNSName(n) for n in SERVER_NAMES]
        san += [x509.IPAddress(ipaddress.ip_address(i)) for i in SERVER_IPS]
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("localhost"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_private, hashes.SHA256())
        )
        _write(server_key, _key_pem(key), 0o600, server_uid)
        _write(server_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        changed = True
    return changed
