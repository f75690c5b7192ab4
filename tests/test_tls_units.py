"""TLS without a server: the cipher policy judged by OpenSSL's own expansion, and the
certificates judged by `openssl verify -x509_strict` (a verifier we did not write)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from billdb.engines import tls
from billdb.ops.scheduler import jobs
from billdb.render import tls as policy

pytestmark = pytest.mark.unit

PG_DEFAULT = "HIGH:MEDIUM:+3DES:!aNULL"  # PostgreSQL's ssl_ciphers default


def _paths(d: Path) -> tuple[Path, Path, Path, Path]:
    return d / "ca.crt", d / "ca.key", d / "server.crt", d / "server.key"


def _strict_verify(ca: Path, cert: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", str(ca), str(cert)],
                          capture_output=True, text=True)


def test_the_cipher_policy_admits_only_ecdhe_aead_on_tls12():
    assert policy.weak_tls12_suites(PG_DEFAULT)  # today's default: CBC, CCM, ... accepted
    suites = policy.tls12_suites(policy.TLS12_CIPHERS)
    assert suites and not policy.weak_tls12_suites(policy.TLS12_CIPHERS)
    assert all(s.startswith("ECDHE-") for s in suites)


def test_certificates_pass_a_strict_verifier(tmp_path: Path):
    ca, key, cert, skey = _paths(tmp_path)
    assert tls.ensure_tls(ca, key, cert, skey, os.getuid())
    res = _strict_verify(ca, cert)
    assert res.returncode == 0, res.stdout + res.stderr
    facts = tls.cert_facts(cert, ca)
    assert facts.key_identifiers and facts.lifetime_days <= policy.SERVER_CERT_DAYS
    assert oct(skey.stat().st_mode & 0o777) == "0o600" and oct(key.stat().st_mode & 0o777) \
        == "0o600"
    assert not tls.ensure_tls(ca, key, cert, skey, os.getuid())  # idempotent


def _legacy_ca(ca: Path, key: Path) -> None:
    """A CA as billdb made them before: no key identifiers (strict verifiers refuse it)."""
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "old CA")])
    now = dt.datetime.now(dt.UTC)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(k.public_key()).serial_number(1)
         .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
         .sign(k, hashes.SHA256()))
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    ca.write_bytes(c.public_bytes(serialization.Encoding.PEM))


def test_a_legacy_ca_is_replaced_with_an_overlap_then_retired(tmp_path: Path):
    ca, key, cert, skey = _paths(tmp_path)
    _legacy_ca(ca, key)
    assert not tls.ca_fit(tls.current_ca(ca, key))
    assert tls.ensure_tls(ca, key, cert, skey, os.getuid())
    bundle = tls.load_bundle(ca)
    assert len(bundle) == 2 and tls.ca_fit(tls.current_ca(ca, key))  # old + new: the overlap
    assert _strict_verify(ca, cert).returncode == 0
    assert tls.retire_old_cas(ca, key) == 1 and len(tls.load_bundle(ca)) == 1
    assert _strict_verify(ca, cert).returncode == 0


def test_rotation_steps_keep_every_client_bundle_working(tmp_path: Path):
    """stage -> switch -> retire: a server certificate signed by either CA verifies against
    the bundle of the moment."""
    ca, key, cert, skey = _paths(tmp_path)
    tls.ensure_tls(ca, key, cert, skey, os.getuid())
    old_bundle = ca.read_bytes()
    tls.stage_ca(ca, key)  # old certificate, new bundle
    assert _strict_verify(ca, cert).returncode == 0
    tls.issue_server_cert(ca, key, cert, skey, os.getuid())  # new certificate
    assert _strict_verify(ca, cert).returncode == 0
    (tmp_path / "old.crt").write_bytes(old_bundle)
    assert _strict_verify(tmp_path / "old.crt", cert).returncode != 0  # needs the new CA
    tls.retire_old_cas(ca, key)
    assert len(tls.load_bundle(ca)) == 1 and _strict_verify(ca, cert).returncode == 0


def test_renewal_is_due_at_two_thirds_of_the_life(tmp_path: Path):
    ca, key, cert, skey = _paths(tmp_path)
    tls.ensure_tls(ca, key, cert, skey, os.getuid())
    facts = tls.cert_facts(cert, ca)
    life = dt.timedelta(days=facts.lifetime_days)
    start = facts.not_after - life
    early = tls.cert_facts(cert, ca, now=start + life * 0.6)
    late = tls.cert_facts(cert, ca, now=start + life * 0.7)
    assert not early.renew_due and late.renew_due
    assert abs((facts.renew_at - (start + life * 2 / 3)).total_seconds()) < 60


def test_the_scheduler_renews_certificates(tmp_path: Path):
    from billdb.context import load_context
    from conftest import write_plan

    ctx = load_context(write_plan(tmp_path / "plan.yaml", tmp_path / "state"))
    assert "tls.renew" in {j.name for j in jobs.all_jobs(ctx)}
