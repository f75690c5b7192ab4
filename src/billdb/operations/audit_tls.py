"""Audit controls of the TLS lifecycle (issue 22, docs/tls.md): what the ports accept, judged
by a strict client of our own (Python's ssl, not libpq), and the certificates' shape and life.

- tls.strict_chain: a handshake with VERIFY_X509_STRICT (key identifiers, CA constraints), to
  PostgreSQL and to PgBouncer;
- tls.tls12_weak_refused: a TLS 1.2 client offering only CBC suites is refused, on both;
- tls.key_identifiers: SKI and AKI on the server certificate, SKI on every CA in the bundle;
- tls.certificate_lifetime: at most the policy's days (Mozilla "intermediate": under 366);
- tls.certificate_renewal: not past two-thirds of its life (the daily renewal would have
  replaced it);
- tls.pooler_ciphers: PgBouncer's client suites and curves within the profile.
"""

from __future__ import annotations

from typing import Any

import psycopg

from billdb.context import Context
from billdb.engines import tls, tls_probe
from billdb.operations.results import control
from billdb.render import tls as policy
from billdb.state import pooler

TLS = "CIS 6.7-6.8 TLS"
CBC_ONLY = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA256"


def _ports(ctx: Context, port: int) -> list[tuple[str, int]]:
    out = [("postgres", port)]
    if ctx.plan.pooler.enabled:
        out.append(("pgbouncer", ctx.local.pooler_port))
    return out


def handshake_controls(ctx: Context, port: int) -> list[dict[str, Any]]:
    ca = ctx.layout.ca_cert
    strict, weak = [], []
    for name, p in _ports(ctx, port):
        hs = tls_probe.handshake(p, tls_probe.context(ca, strict=True))
        strict.append((hs.ok, f"{name}:{p} {hs.detail}"))
        cbc = tls_probe.handshake(p, tls_probe.context(ca, tls12_only=True,
                                                       tls12_ciphers=CBC_ONLY))
        weak.append((not cbc.ok, f"{name}:{p} " + ("refused" if not cbc.ok
                                                   else f"ACCEPTED {cbc.detail}")))
    return [
        control("tls.strict_chain", "a strict client (VERIFY_X509_STRICT) completes the "
                "handshake", TLS, all(ok for ok, _ in strict), "; ".join(d for _, d in strict)),
        control("tls.tls12_weak_refused", "TLS 1.2 with only CBC suites is refused", TLS,
                all(ok for ok, _ in weak), "; ".join(d for _, d in weak)),
    ]


def certificate_controls(ctx: Context) -> list[dict[str, Any]]:
    lay = ctx.layout
    facts = tls.cert_facts(lay.server_cert, lay.ca_cert)
    bundle = tls.load_bundle(lay.ca_cert)
    cas_ok = all(tls.ca_fit(c) for c in bundle)
    return [
        control("tls.key_identifiers", "Subject and Authority Key Identifiers on the server "
                "certificate, a Subject Key Identifier on every CA", TLS,
                facts.key_identifiers and cas_ok,
                f"server certificate: {'both' if facts.key_identifiers else 'missing'}; "
                f"{len(bundle)} CA(s) in the bundle: {'fit' if cas_ok else 'not fit'}"),
        control("tls.certificate_lifetime", f"server certificate valid at most "
                f"{policy.SERVER_CERT_DAYS} days", TLS,
                facts.lifetime_days <= policy.SERVER_CERT_DAYS + 1,
                f"{lay.server_cert}: {facts.lifetime_days:g} days"),
        control("tls.certificate_renewal", "not past two-thirds of its life (the scheduler's "
                "daily tls.renew replaces it then)", TLS, not facts.renew_due,
                f"{100 * facts.life_used:.1f} % of its life used, renews at "
                f"{facts.renew_at:%Y-%m-%d}"),
    ]


def pooler_controls(ctx: Context) -> list[dict[str, Any]]:
    if not ctx.plan.pooler.enabled:
        return []
    try:
        conf = {r["key"]: r["value"] for r in pooler.console(ctx, "SHOW CONFIG")}
    except psycopg.Error as exc:
        return [control("tls.pooler_ciphers", "PgBouncer's TLS suites and curves as the "
                        "profile", TLS, False, f"SHOW CONFIG failed: {exc}"[:300])]
    ciphers, curves = conf.get("client_tls_ciphers", ""), conf.get("client_tls_ecdhcurve", "")
    weak = policy.weak_tls12_suites(ciphers)
    curves_ok = curves in policy.PROFILE_CURVES
    return [control("tls.pooler_ciphers", "PgBouncer's TLS suites and curves as the profile",
                    TLS, bool(ciphers) and not weak and curves_ok,
                    f"client_tls_ciphers '{ciphers}': "
                    f"{'weak ' + ', '.join(weak[:4]) if weak else 'ECDHE + AEAD only'}; "
                    f"client_tls_ecdhcurve '{curves}'")]


def controls(ctx: Context, port: int) -> list[dict[str, Any]]:
    return handshake_controls(ctx, port) + certificate_controls(ctx) + pooler_controls(ctx)
