"""The database-level part of `azure apply` over TLS to the server's FQDN, against a real
PostgreSQL 15 standing behind that name (its certificate names
phonebill-bill-inquiry-prod-pg.postgres.database.azure.com; billdb connects with
verify-full to that host name at 127.0.0.1), with the ARM part against the contract double.

Like Azure, the administrator is not a superuser (CREATEROLE, CREATEDB). What Azure does
through ARM and a local PostgreSQL cannot, the stand-in does as its own superuser: the
database PUT creates the database (owned by the administrator), and the extensions that
azure.extensions allow-lists but PostgreSQL does not trust (pg_stat_statements, pgaudit)
are created there; the trusted ones are left to billdb.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import BILLDB, PORT_BASE, ROOT
from test_azure import _CLEAN, VNETS, Double, run

PGBIN = Path("/usr/lib/postgresql/15/bin")
FQDN = "phonebill-bill-inquiry-prod-pg.postgres.database.azure.com"


def _cert(tmp: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test Azure CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    srv = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, FQDN)]))
           .issuer_name(ca_name).public_key(key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(now - dt.timedelta(minutes=5))
           .not_valid_after(now + dt.timedelta(days=1))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(FQDN)]), critical=False)
           .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp / "ca.crt").write_bytes(ca.public_bytes(pem))
    (tmp / "server.crt").write_bytes(srv.public_bytes(pem))
    (tmp / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _as_postgres(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True,
                   capture_output=True, text=True, timeout=120)


@pytest.fixture
def stand_in(tmp_path: Path):
    base = Path(f"/tmp/billdb-test-{PORT_BASE}-azure-pg")
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(mode=0o700)
    _cert(base)
    shutil.chown(base, "postgres")
    for f in base.iterdir():
        shutil.chown(f, "postgres")
    (base / "server.key").chmod(0o600)
    data, port = base / "data", PORT_BASE + 60
    _as_postgres(str(PGBIN / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
                 "--locale", "en_US.UTF-8", "--auth-local", "peer",
                 "--auth-host", "scram-sha-256")
    with (data / "postgresql.conf").open("a") as fh:
        fh.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
                 f"unix_socket_directories = '{base}'\nssl = on\n"
                 f"ssl_cert_file = '{base}/server.crt'\nssl_key_file = '{base}/server.key'\n"
                 "shared_preload_libraries = 'pg_stat_statements,pgaudit'\n")
    (data / "pg_hba.conf").write_text("local all postgres peer\n"
                                      "hostssl all all 127.0.0.1/32 scram-sha-256\n")
    _as_postgres(str(PGBIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "start")
    state = tmp_path / "state"
    os.environ["BILLDB_AZURE_STATE"] = str(state)
    try:
        from billdb.azure import state as az_state

        pw = az_state.admin_password()
    finally:
        del os.environ["BILLDB_AZURE_STATE"]
    try:
        psql = [str(PGBIN / "psql"), "-h", str(base), "-p", str(port), "-v",
                "ON_ERROR_STOP=1", "-U", "postgres"]
        _as_postgres(*psql, "-d", "postgres", "-c",
                     f"CREATE ROLE bill_pgadmin LOGIN CREATEROLE CREATEDB PASSWORD '{pw}'", "-c",
                     "CREATE DATABASE bill_inquiry_db OWNER bill_pgadmin TEMPLATE template0 "
                     "ENCODING 'UTF8' LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'")
        _as_postgres(*psql, "-d", "bill_inquiry_db", "-c", "CREATE EXTENSION pg_stat_statements",
                     "-c", "CREATE EXTENSION pgaudit")
        yield {"BILLDB_AZURE_PG_HOSTADDR": "127.0.0.1", "BILLDB_AZURE_PG_PORT": str(port),
               "BILLDB_AZURE_PG_CA": str(base / "ca.crt"), "state": str(state)}
    finally:
        _as_postgres(str(PGBIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_apply_reaches_the_database_over_tls_as_a_non_superuser(tmp_path: Path, stand_in):
    d = Double(tmp_path, PORT_BASE + 53, VNETS)
    env = {**d.env, **{k: v for k, v in stand_in.items() if k != "state"},
           "BILLDB_AZURE_STATE": stand_in["state"]}
    env.pop("BILLDB_AZURE_SQL")
    try:
        # killed right after the migrations ran, before the journal marked them done
        proc = subprocess.Popen([BILLDB, "--env", "prod", "azure", "apply", "--yes"], cwd=ROOT,
                                env={**_CLEAN, **env, "BILLDB_JOURNAL_PAUSE_AT":
                                     "sql.migrations:after"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while Path(f"/proc/{proc.pid}/stat").read_text().split()[2] != "T":
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        rerun = run("azure", "apply", "--yes", "--json", env=env)
        assert rerun.returncode == 0, rerun.stderr
        doc = json.loads(rerun.stdout)
        assert doc["journal"]["resumed"] and doc["changed"] == ["sql sql.privileges"], doc
        again = run("azure", "apply", "--yes", "--json", env=env)
        assert json.loads(again.stdout)["changes"] == 0, again.stdout + again.stderr
        v = run("azure", "verify", "--json", env=env)
        report = json.loads(v.stdout)
        assert v.returncode == 0, [c for c in report["checks"] if not c["ok"]]
        ids = {c["id"] for c in report["checks"]}
        assert {"role.bill_app_user.attributes", "db.owner", "db.timezone",
                "schema.migrations"} <= ids
        # the application role logs in over verified TLS and reads the seed rows
        pw = json.loads((Path(stand_in["state"]) / "role-secrets.json").read_text())[
            "role:bill_app_user"]
        with psycopg.connect(host=FQDN, hostaddr="127.0.0.1", port=int(
                stand_in["BILLDB_AZURE_PG_PORT"]), user="bill_app_user", password=pw,
                dbname="bill_inquiry_db", sslmode="verify-full",
                sslrootcert=stand_in["BILLDB_AZURE_PG_CA"]) as conn:
            assert conn.execute("SELECT count(*) FROM system_config").fetchone()[0] > 0
        # §9.1 on Azure: billdb's dump path as the backup role over verified TLS (the upload
        # to Blob needs a workload identity and the private endpoint: not here)
        dumped = run("azure", "dump", "--no-upload", "--json", env=env)
        assert dumped.returncode == 0, dumped.stderr
        manifest = json.loads(dumped.stdout)
        assert manifest["role"] == "bill_backup_user" and manifest["uploaded"] is None
        assert manifest["row_counts"]["system_config"] > 0
        listing = subprocess.run([str(PGBIN / "pg_restore"), "--list", manifest["file"]],
                                 capture_output=True, text=True, check=True)
        assert "TABLE DATA public system_config" in listing.stdout
    finally:
        d.stop()
