"""Bounded disk and the archive outage (issue 22, part 4): the bounds in force, the geo
repository (repo2, Azurite) stopped under a writer with the archive alert naming repo2 within
the RPO, the audit's bound controls failing when weakened. Real servers throughout."""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import time
from contextlib import ExitStack
from pathlib import Path

from billdb.engines import etcd, process
from billdb.engines.patroni import PatroniAPI
from billdb.ops.backup import common
from billdb.render import bounds
from billdb.retry import wait_until
from billdb.state import cluster
from conftest import Env

OUTAGE_MIN = 5  # the acceptance runs 10; 5 covers the alert's worst case (240 s) and more


def _checks(env: Env, *args: str) -> dict[str, dict]:
    res = env.run(*args, "--json", check=False, timeout=900)
    doc = json.loads(res.stdout)
    key = "checks" if "checks" in doc else "controls"
    return {c["id"]: c for c in doc[key]}


def test_bounds_in_force_and_verified(fresh_env: Env) -> None:
    got = _checks(fresh_env, "verify")
    mb = bounds.disk_bounds(fresh_env.context().plan).wal_keep_mb
    assert got["param.max_slot_wal_keep_size"]["ok"], got["param.max_slot_wal_keep_size"]
    assert str(mb) in str(got["param.max_slot_wal_keep_size"]["expected"])
    assert got["backup.config"]["ok"] and got["backup.archive_continuous"]["ok"]


def test_geo_repository_outage_alerts_within_the_rpo(fresh_env: Env) -> None:
    """Idle before (a fresh environment): the alert must not depend on earlier traffic."""
    res = fresh_env.run("drill", "archive-outage", "--minutes", str(OUTAGE_MIN), "--json",
                        check=False, timeout=1800)
    r = json.loads(res.stdout)
    assert res.returncode == 0 and r["ok"], r
    assert r["lost_commits"] == 0 and r["acked_commits"] > 100, r
    assert r["wal_peak_bytes"] <= r["wal_bound_bytes"], r
    assert r["alert"]["repo"] == "repo2" and r["alert"]["name"] == "WalArchiveBehind"
    assert r["alert"]["fired_after_s"] <= r["alert"]["goal_s"] == 300, r["alert"]
    assert r["catch_up_s"] is not None and r["backup_verify_ok"], r
    print(f"\narchive outage {OUTAGE_MIN} min: {json.dumps(r)}")
    assert "Use of" not in res.stderr and "repo2" in res.stderr  # progress lines, no secret


def _patch(env: Env, body: dict) -> None:
    ctx = env.context()
    PatroniAPI(cluster.leader(ctx)).patch_config(body)


def _bound_controls(env: Env) -> dict[str, str]:
    got = _checks(env, "audit", "security")
    ids = ("wal.max_slot_wal_keep_size", "wal.archive_push_queue_max", "wal.archive_get_sync",
           "log.cap", "dcs.members_healthy", "dcs.failsafe_mode")
    return {i: got[i]["status"] for i in ids}


def test_audit_bound_controls_fail_when_weakened(fresh_env: Env) -> None:
    ctx = fresh_env.context()
    assert set(_bound_controls(fresh_env).values()) == {"pass"}
    conf = common.paths(ctx).config
    saved = conf.read_text(encoding="utf-8")
    log_dir = ctx.layout.member(ctx.members[0].name).pg_log_dir
    old = log_dir / "postgresql-2000-01-01_000000.log"
    member = etcd.members(ctx.local, ctx.layout)[-1]
    svc = etcd.service(ctx.local, ctx.layout, member)
    try:
        _patch(fresh_env, {"failsafe_mode": False,
                           "postgresql": {"parameters": {"max_slot_wal_keep_size": "-1"}}})
        weak = saved.replace("archive-push-queue-max", "#archive-push-queue-max")
        conf.write_text(weak.replace("[global]\n", "[global]\narchive-async=y\n", 1),
                        encoding="utf-8")
        old.write_text("an old log\n")
        t = time.time() - 9 * 86400
        os.utime(old, (t, t))
        process.stop(svc)
        time.sleep(8)  # Patroni's loop_wait: the parameter reloaded
        assert set(_bound_controls(fresh_env).values()) == {"fail"}
    finally:
        process.start(svc)
        conf.write_text(saved, encoding="utf-8")
        old.unlink(missing_ok=True)
        keep = f"{bounds.disk_bounds(ctx.plan).wal_keep_mb}MB"
        _patch(fresh_env, {"failsafe_mode": True,
                           "postgresql": {"parameters": {"max_slot_wal_keep_size": keep}}})
    deadline = time.time() + 60
    while time.time() < deadline and set(_bound_controls(fresh_env).values()) != {"pass"}:
        time.sleep(5)
    assert set(_bound_controls(fresh_env).values()) == {"pass"}


def _hold(lock: Path, stack: ExitStack) -> None:
    """Take pgBackRest's archive lock file as another pgBackRest would (flock, exclusive)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    f = stack.enter_context(lock.open("a"))
    pw = pwd.getpwnam("postgres")
    os.chown(lock, pw.pw_uid, pw.pw_gid)  # pgBackRest (postgres) still opens it
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_held_archive_lock_elsewhere_does_not_hold_up_the_push(fresh_env: Env) -> None:
    """The members share a host. The first version of this work had one lock path for all:
    a standby's asynchronous archive-get held `<stanza>-archive.lock` and the primary's
    push waited archive-timeout (60 s) for it. Now each member locks in its own path: with a
    standby's lock and the configuration's own held, a segment is archived at once."""
    ctx = fresh_env.context()
    lead = cluster.leader(ctx)
    paths = common.paths(ctx)
    name = f"{common.engine(ctx).stanza}-archive.lock"
    with ExitStack() as stack, cluster.admin_connect(ctx, lead) as conn:
        for m in ctx.members:
            if m.name != lead.name:
                _hold(paths.member_lock(m.name) / name, stack)
        _hold(paths.lock_dir / name, stack)
        conn.execute("SELECT pg_logical_emit_message(false, 'billdb', 'lock test')")
        seg = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        t0 = time.monotonic()
        archived = wait_until(lambda: (conn.execute(
            "SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0] or "") >= seg, 45)
        took = time.monotonic() - t0
    assert archived and took < 20, f"{seg} archived after {took:.1f} s"
    print(f"\n{seg} archived {took:.1f} s after the switch, other members' locks held")
