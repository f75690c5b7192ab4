"""TLS on real servers (issue 22): what PostgreSQL and PgBouncer accept, judged by Python's own
ssl with VERIFY_X509_STRICT; the audit's TLS controls failing when weakened; renewal and CA
rotation under a running bench with nothing dropped."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

from billdb.engines import tls_probe
from billdb.render import tls as policy
from billdb.retry import wait_until
from billdb.state import cluster, pooler
from conftest import BILLDB, ROOT, Env

AEAD12 = "ECDHE-ECDSA-AES128-GCM-SHA256"
CBC12 = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA"


def _ports(env: Env) -> list[int]:
    ctx = env.context()
    return [m.port for m in ctx.members] + [ctx.local.pooler_port]


def test_every_tls_port_meets_the_profile_for_a_strict_client(env: Env):
    ca = env.context().layout.ca_cert
    for port in _ports(env):
        strict = tls_probe.handshake(port, tls_probe.context(ca, strict=True))
        assert strict.ok and strict.version in ("TLSv1.2", "TLSv1.3"), (port, strict.detail)
        aead = tls_probe.handshake(port, tls_probe.context(ca, tls12_only=True,
                                                           tls12_ciphers=AEAD12))
        assert aead.ok and aead.cipher == AEAD12, (port, aead.detail)
        cbc = tls_probe.handshake(port, tls_probe.context(ca, tls12_only=True,
                                                          tls12_ciphers=CBC12))
        assert not cbc.ok, (port, cbc.detail)


def _tls_failing(env: Env) -> set[str]:
    res = env.run("audit", "security", "--json", check=False)
    doc = json.loads(res.stdout)
    return {c["id"] for c in doc["controls"] if c["status"] == "fail" and
            c["id"].startswith("tls.")}


def test_the_audit_fails_weak_ciphers_and_passes_the_profile(env: Env):
    assert _tls_failing(env) == set()
    ctx = env.context()
    lead = cluster.leader(ctx)
    with cluster.admin_connect(ctx, lead) as conn:
        conn.execute("ALTER SYSTEM SET ssl_ciphers = 'HIGH:MEDIUM:+3DES:!aNULL'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        assert wait_until(lambda: {"tls.ciphers", "tls.tls12_weak_refused"}
                          <= _tls_failing(env), timeout=20, interval=1)
    finally:
        with cluster.admin_connect(ctx, lead) as conn:
            conn.execute("ALTER SYSTEM RESET ssl_ciphers")
            conn.execute("SELECT pg_reload_conf()")
    assert wait_until(lambda: _tls_failing(env) == set(), timeout=20, interval=1)


def _server_pids(env: Env) -> set[int]:
    ctx = env.context()
    with cluster.admin_connect(ctx, cluster.leader(ctx)) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE usename = "
                            "'bill_app_user' AND backend_type = 'client backend'").fetchall()
    return {r[0] for r in rows}


def _client_connections(env: Env) -> set[tuple[str, int]]:
    """The bench's client connections: ("direct", backend pid) straight to the primary, and
    ("pooled", PgBouncer's client id) to PgBouncer. PgBouncer's own server connections are
    not the client's: PgBouncer may replace them (it does when its TLS settings change)."""
    ctx = env.context()
    backends = _server_pids(env)  # first: a server connection made after it is listed below
    servers = {r["remote_pid"] for r in pooler.console(ctx, "SHOW SERVERS")}
    pooled = {("pooled", int(r["id"])) for r in pooler.console(ctx, "SHOW CLIENTS")
              if r["user"] in ctx.plan.roles.login and r["database"] != "pgbouncer"}  # not us
    return {("direct", pid) for pid in backends - servers} | pooled


@contextlib.contextmanager
def bench_on_both_routes(env: Env, duration: int = 12) \
        -> Iterator[Callable[[], tuple[dict, str]]]:
    """A bench straight and through PgBouncer in turns (`duration` s each), yielded once it
    measures (its pools open, its window started, ten server connections held); `finish()`
    waits for it and returns (report, stderr). `finish.running()` says it still measures."""
    bench = subprocess.Popen(
        [BILLDB, "--plan", str(env.plan), "bench", "--users", "20", "--duration", str(duration),
         "--think-ms", "20", "--through-pooler", "--compare-direct", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(bench.stderr), daemon=True)
    reader.start()

    def measuring() -> bool:  # "bench 1/24 s (direct): ..." once the window runs
        return any(re.search(r"bench \d+/\d+ s", line) for line in list(err))

    def finish() -> tuple[dict, str]:
        out = bench.stdout.read()
        bench.wait(timeout=180)
        reader.join(timeout=10)
        return json.loads(out), "".join(err)

    finish.running = lambda: bench.poll() is None  # type: ignore[attr-defined]
    try:
        assert wait_until(lambda: measuring() or bench.poll() is not None, timeout=120,
                          interval=0.2) and bench.poll() is None, "".join(err)[-2000:]
        assert wait_until(lambda: len(_server_pids(env)) >= 10, timeout=60, interval=0.5)
        yield finish
    finally:
        if bench.poll() is None:
            bench.kill()


def test_renewal_and_ca_rotation_under_a_bench_drop_nothing(env: Env):
    """A bench on both routes (straight and through PgBouncer, in turns) while the server
    certificate is renewed and the CA rotated: 0 errors, and every client connection the
    bench held before, straight or to PgBouncer, is still there after (nothing dropped,
    nothing restarted)."""
    # 30 s a route: renewal and rotation take about 8 s on a quiet machine; in CI a 12 s
    # bench once ended before `after` was read (every connection gone, none replaced)
    with bench_on_both_routes(env, duration=30) as finish:
        time.sleep(3)
        before = _client_connections(env)
        renewed = json.loads(env.run("tls", "renew", "--force", "--json").stdout)
        rotated = json.loads(env.run("tls", "rotate-ca", "--json").stdout)
        still_measuring = finish.running()
        after = _client_connections(env)
        report, err = finish()
    assert still_measuring, "the bench ended before the rotation did: nothing to compare"
    assert renewed["renewed"] and renewed["ok"] and rotated["ok"], (renewed, rotated)
    assert len(rotated["ca_bundle"]) == 1 and rotated["old_ca"] != \
        rotated["ca_bundle"][0]["subject"]
    assert {kind for kind, _ in before} == {"direct", "pooled"}, before
    assert before <= after, f"dropped client connections: {sorted(before - after)}"
    assert report.get("errors") == 0 and report["direct"]["errors"] == 0, (report, err[-3000:])
    assert report["stuck"] == 0
    assert _tls_failing(env) == set()
    assert policy.SERVER_CERT_DAYS <= 365
    # Azurite (repo2) presents the new certificate too: archiving to both repositories and
    # every standby's archive-get go on (it once kept the old one and a replica hung)
    checks = {c["id"]: c for c in json.loads(env.run("verify", "--json",
                                                     check=False).stdout)["checks"]}
    assert checks["backup.check"]["ok"], checks["backup.check"]
