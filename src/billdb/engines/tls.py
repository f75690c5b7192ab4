"""A private CA and a server certificate for loopback, made with `cryptography`.

The CA key stays with root (0600); the server key is handed to the OS user that runs
PostgreSQL (0600). Clients verify the server with the CA file (sslmode=verify-full), which is a
bundle: during a CA rotation it holds the new CA and the old one, so clients trust both until
the switch is complete (docs/tls.md).

Certificates pass strict chain checks (`openssl verify -x509_strict`, Python's
VERIFY_X509_STRICT): the CA carries a Subject Key Identifier, the server certificate a Subject
and an Authority Key Identifier. A server certificate lives SERVER_CERT_DAYS and is renewed
once RENEW_AFTER of its life has passed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from billdb.fsutil import write_atomic
from billdb.render.tls import CA_DAYS, RENEW_AFTER, SERVER_CERT_DAYS

SERVER_NAMES = ["localhost"]
SERVER_IPS = ["127.0.0.1"]
_BACKDATE = dt.timedelta(minutes=5)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _write(path: Path, data: bytes, mode: int, uid: int | None = None) -> None:
    write_atomic(path, data, mode, uid, only_if_changed=False)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "billdb"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
                         decipher_only=False)


def _has(cert: x509.Certificate, ext: type[x509.ExtensionType]) -> bool:
    try:
        cert.extensions.get_extension_for_class(ext)
    except x509.ExtensionNotFound:
        return False
    return True


def new_ca(now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"billdb local CA {now:%Y-%m-%d %H:%M:%S}"))
        .issuer_name(_name(f"billdb local CA {now:%Y-%m-%d %H:%M:%S}"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def new_server_cert(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                    now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in SERVER_NAMES]
    san += [x509.IPAddress(ipaddress.ip_address(i)) for i in SERVER_IPS]
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now - _BACKDATE + dt.timedelta(days=SERVER_CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@dataclass(frozen=True)
class CertFacts:
    """What the audit and `tls status` read of a server certificate."""

    not_after: dt.datetime
    lifetime_days: float
    life_used: float  # 0..1 (and more once expired)
    key_identifiers: bool  # SKI and AKI present
    issuer_in_bundle: bool
    names_ok: bool

    @property
    def renew_due(self) -> bool:
        return self.life_used >= RENEW_AFTER

    @property
    def fit(self) -> bool:
        """Signed by a CA of the bundle, our names, its key identifiers, within the policy's
        lifetime, not yet due for renewal."""
        return (self.issuer_in_bundle and self.names_ok and self.key_identifiers
                and self.lifetime_days <= SERVER_CERT_DAYS + 1 and not self.renew_due)

    @property
    def renew_at(self) -> dt.datetime:
        return self.not_after - (1 - RENEW_AFTER) * dt.timedelta(days=self.lifetime_days)


def load_bundle(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes()) if path.exists() else []


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def cert_facts(cert_path: Path, ca_path: Path, now: dt.datetime | None = None) -> CertFacts:
    now = now or dt.datetime.now(dt.UTC)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    life = (end - start).total_seconds()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(san.get_values_for_type(x509.DNSName))
    ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    return CertFacts(
        not_after=end, lifetime_days=round(life / 86400, 2),
        life_used=(now - start).total_seconds() / life,
        key_identifiers=_has(cert, x509.SubjectKeyIdentifier)
        and _has(cert, x509.AuthorityKeyIdentifier),
        issuer_in_bundle=any(_issued_by(cert, ca) for ca in load_bundle(ca_path)),
        names_ok=set(SERVER_NAMES) <= names and set(SERVER_IPS) <= ips,
    )


def certificate_ok(cert_path: Path, ca_path: Path, ca_key_path: Path | None = None) -> bool:
    """True when the server certificate exists, is signed by the current CA (the one whose
    key is `ca_key_path`, else any in the bundle), covers our names, carries its key
    identifiers, lives no longer than the policy and is not yet due for renewal."""
    if not (cert_path.exists() and ca_path.exists()):
        return False
    facts = cert_facts(cert_path, ca_path)
    if ca_key_path is not None:
        current = current_ca(ca_path, ca_key_path)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if current is None or not _issued_by(cert, current):
            return False
    return facts.fit


def _ca_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def current_ca(ca_path: Path, ca_key_path: Path) -> x509.Certificate | None:
    """The bundle's certificate that belongs to the CA key (the CA that signs now)."""
    if not ca_key_path.exists():
        return None
    pub = _ca_key(ca_key_path).public_key().public_numbers()
    for ca in load_bundle(ca_path):
        if ca.public_key().public_numbers() == pub:  # type: ignore[union-attr]
            return ca
    return None


def ca_fit(ca: x509.Certificate | None) -> bool:
    """A CA that strict verifiers accept: CA constraint, keyCertSign, Subject Key Id."""
    return ca is not None and _has(ca, x509.SubjectKeyIdentifier) and _has(ca, x509.KeyUsage) \
        and ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def stage_ca(ca_cert: Path, ca_key: Path) -> None:
    """A new CA key, its certificate first in the bundle and the old ones kept (the overlap:
    clients trust both). The old key is replaced: only the new CA signs from now on."""
    key, cert = new_ca(dt.datetime.now(dt.UTC))
    old = [c for c in load_bundle(ca_cert)
           if c.not_valid_after_utc > dt.datetime.now(dt.UTC)]
    # The key first: killed in between, no certificate in the bundle matches it, so the next
    # run stages again (the bundle is never left with a current CA whose key is gone).
    _write(ca_key, _key_pem(key), 0o600)
    _write(ca_cert, _pem([cert, *old]), 0o644)


def retire_old_cas(ca_cert: Path, ca_key: Path) -> int:
    """The bundle without the CAs other than the current one; how many went."""
    current = current_ca(ca_cert, ca_key)
    bundle = load_bundle(ca_cert)
    if current is None or len(bundle) <= 1:
        return 0
    _write(ca_cert, _pem([current]), 0o644)
    return len(bundle) - 1


def issue_server_cert(ca_cert: Path, ca_key: Path, server_cert: Path, server_key: Path,
                      server_uid: int) -> None:
    ca = current_ca(ca_cert, ca_key)
    if ca is None:
        raise ValueError(f"{ca_key}: no certificate of this key in {ca_cert}")
    key, cert = new_server_cert(ca, _ca_key(ca_key), dt.datetime.now(dt.UTC))
    # The key first: a reload between the two writes must not pair the new certificate with
    # the old key (PostgreSQL then keeps its old pair and logs the mismatch).
    _write(server_key, _key_pem(key), 0o600, server_uid)
    _write(server_cert, _pem([cert]), 0o644)


def ensure_tls(ca_cert: Path, ca_key: Path, server_cert: Path, server_key: Path,
               server_uid: int) -> bool:
    """Create the CA and the server certificate when missing or unfit; True if changed. A CA
    that strict verifiers reject (one made before key identifiers) is replaced with an
    overlap: the old one stays in the bundle until `billdb tls rotate-ca` retires it."""
    changed = False
    if not ca_fit(current_ca(ca_cert, ca_key)):
        stage_ca(ca_cert, ca_key)
        changed = True
    if changed or not server_key.exists() or not certificate_ok(server_cert, ca_cert, ca_key):
        issue_server_cert(ca_cert, ca_key, server_cert, server_key, server_uid)
        changed = True
    return changed
