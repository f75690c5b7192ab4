"""`billdb audit security`: controls in the manner of the CIS PostgreSQL 15 Benchmark and
pgdsat, each {id, title, reference, status, evidence}, read from the live environment.

The controls are grouped by family: installation and patches, files, logging, pgaudit,
access, login, settings, TLS, replication, backups and column encryption. Backup controls
reuse `billdb verify`'s backup checks, so the two never disagree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography import x509
from psycopg.rows import class_row

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.engines import postgres
from billdb.lint import eol
from billdb.operations import (
    audit_access,
    audit_bounds,
    audit_files,
    audit_settings,
    audit_tls,
)
from billdb.operations.results import control, counts
from billdb.ops.verify import backup as verify_backup
from billdb.ops.verify.security import _attempt
from billdb.render.parameters import conf_text
from billdb.state import cluster, hba

INSTALL = "CIS 1 installation and patches"
TLS = "CIS 6.7-6.8 TLS"
BACKUP = "CIS 8 backup and recovery"
CERT_MIN_DAYS = 30


def run(ctx: Context, today: date | None = None) -> dict[str, Any]:
    lead = cluster.leader(ctx)
    where = f"{lead.name} (primary, port {lead.port})"
    out: list[dict[str, Any]] = []
    with cluster.admin_connect(ctx, lead) as conn:
        settings = {name: setting for name, setting, _unit in conn.execute(
            sqlfiles.load("audit/settings"), {"names": audit_settings.NAMES + audit_bounds.NAMES})}
        version = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
        roles = conn.cursor(row_factory=class_row(audit_access.RoleRow)).execute(
            sqlfiles.load("audit/roles")).fetchall()
        server_roles = conn.execute(sqlfiles.load("audit/server_roles")).fetchall()
        rules = hba.read(conn)
    out.append(_version(version, today or date.today()))
    out += audit_files.controls(ctx)
    out += [_socket(ctx, c) for c in audit_settings.controls(ctx.plan, settings, where)]
    out += audit_access.hba_controls(ctx, rules, where)
    out += audit_access.role_controls(ctx, roles, server_roles)
    with cluster.admin_connect(ctx, lead, dbname=ctx.plan.database.name) as conn:
        out += audit_access.database_controls(conn, ctx)
    out += _tls(ctx, lead.port)
    out += audit_tls.controls(ctx, lead.port)
    out += _backups(ctx)
    out += audit_bounds.controls(ctx, settings, where)
    return {"controls": out, "count": len(out), "summary": counts(out),
            "families": _families(out), "ok": all(c["status"] != "fail" for c in out)}


def _socket(ctx: Context, c: dict[str, Any]) -> dict[str, Any]:
    """A 0777 socket inside a 0700 directory is reachable by its owner only (CIS accepts
    either guard); anything else stands as judged."""
    if c["id"] != "set.unix_socket_permissions" or c["status"] == "pass":
        return c
    run = ctx.layout.run_dir
    mode = run.stat().st_mode & 0o777 if run.exists() else 0o777
    if mode & 0o007:
        return c
    return c | {"status": "pass", "evidence": c["evidence"] + f"; the socket directory {run} "
                f"is {mode:04o}, so no other user reaches the socket"}


def _families(controls: list[dict[str, Any]]) -> dict[str, int]:
    fam: dict[str, int] = {}
    for c in controls:
        fam[c["reference"]] = fam.get(c["reference"], 0) + 1
    return fam


def _version(major: int, today: date) -> dict[str, Any]:
    wins = eol.windows(major)
    ok = bool(wins) and all(w.end > today for w in wins)
    ends = "; ".join(w.describe(today) for w in wins) or "no support dates known"
    return control("install.supported_version", "a supported PostgreSQL major version", INSTALL,
                   ok, f"PostgreSQL {major}: {ends} (src/billdb/data/postgres_eol.json)")


def _tls(ctx: Context, port: int) -> list[dict[str, Any]]:
    lay = ctx.layout
    out = []
    cert = x509.load_pem_x509_certificate(lay.server_cert.read_bytes())
    left = cert.not_valid_after_utc - datetime.now(UTC)
    out.append(control("tls.certificate_expiry", f"server certificate valid > {CERT_MIN_DAYS} "
                       "days", TLS, left > timedelta(days=CERT_MIN_DAYS),
                       f"{lay.server_cert}: expires {cert.not_valid_after_utc:%Y-%m-%d} "
                       f"({left.days} days)"))
    role = next(iter(ctx.plan.roles.login))
    db = ctx.plan.database.name
    uri = postgres.uri(lay, user=role, dbname=db, ports=[port])
    try:
        with postgres.connect(uri, what=f"{role} login") as conn:
            ssl, ver, cipher = conn.execute(sqlfiles.load("audit/own_ssl")).fetchone()
        ok = bool(ssl) and ver in ("TLSv1.2", "TLSv1.3")
        out.append(control("tls.negotiated", "a client login negotiates TLS 1.2+", TLS, ok,
                           f"{role}: TLS {'on' if ssl else 'off'}, {ver}, {cipher}"))
    except Exception as exc:  # a refused login is the finding itself
        out.append(control("tls.negotiated", "a client login negotiates TLS 1.2+", TLS, False,
                           f"{role}: {exc}"[:300]))
    base = {"user": role, "dbname": db, "ports": [port]}
    ok, what = _attempt(postgres.uri(lay, **base, extra={"sslmode": "disable"}))
    out.append(control("tls.plaintext_refused", "a plaintext connection is refused", TLS,
                       not ok, what))
    ok, what = _attempt(postgres.uri(lay, **base, extra={"ssl_min_protocol_version": "TLSv1",
                                                          "ssl_max_protocol_version": "TLSv1.1"}))
    out.append(control("tls.tls11_refused", "TLS 1.1 is refused", TLS, not ok, what))
    return out


def _backups(ctx: Context) -> list[dict[str, Any]]:
    """verify's backup checks (archiving, encryption, age per repo, config, scheduler)."""
    out = []
    for c in verify_backup.checks(ctx):
        if c.id == "backup.logical_age":
            continue
        out.append(control(f"backup.{c.id.removeprefix('backup.')}", conf_text(c.expected),
                           BACKUP, c.ok, conf_text(c.actual)))
    return out
