"""Credential rotation without downtime (issue 22): a login role's password changes while a
bench runs on both routes (straight and through PgBouncer); open connections keep working,
new ones log in with the new secret, the old one no longer works, nothing prints it."""

from __future__ import annotations

import psycopg

from billdb.engines.secrets import SecretStore
from billdb.state import pooler
from conftest import Env
from test_tls import bench_on_both_routes


def _password(env: Env, role: str) -> str:
    ctx = env.context()
    store = SecretStore(ctx.layout.secrets_file)
    return store.role_password(role)


def test_rotation_under_a_bench_sees_no_error(env: Env):
    ctx = env.context()
    roles = ("bill_app_user", "bill_readonly_user")
    old = {r: _password(env, r) for r in roles}
    with bench_on_both_routes(env) as finish:
        outputs = [env.run("secrets", "rotate", "--role", r, "--json") for r in roles]
        report, err = finish()
    assert report.get("errors") == 0 and report["direct"]["errors"] == 0, (report, err[-3000:])
    new = {r: _password(env, r) for r in roles}
    for r in roles:
        assert new[r] != old[r]
        for res in outputs:
            assert new[r] not in res.stdout + res.stderr and old[r] not in res.stdout
    for r in roles:  # new connections: the passfile, straight and through PgBouncer
        with psycopg.connect(env.dsn(r)) as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == r
        with psycopg.connect(pooler.conninfo(ctx, ctx.plan.database.name, user=r)) as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
        try:
            psycopg.connect(env.dsn(r), password=old[r]).close()
        except psycopg.OperationalError as exc:
            assert "password authentication failed" in str(exc)
        else:
            raise AssertionError(f"{r}: the old password still logs in")


def test_rotation_refuses_a_role_not_in_the_plan(env: Env):
    res = env.run("secrets", "rotate", "--role", "postgres", check=False)
    assert res.returncode == 2 and "login role of the plan" in res.stderr
