"""The consensus store beyond a process crash (issue 22): three etcd members, Patroni's
failsafe mode, and the drill that freezes the whole store or kills its raft leader while a
writer commits. Real etcd, real Patroni, a real writer through the application route."""

from __future__ import annotations

import json

from conftest import Env


def _drill(env: Env, *args: str) -> tuple[int, dict]:
    res = env.run("drill", "dcs", *args, "--json", check=False, timeout=600)
    return res.returncode, json.loads(res.stdout)


def test_verify_sees_three_members_and_failsafe(env: Env):
    report = json.loads(env.run("verify", "--json").stdout)
    got = {c["id"]: c for c in report["checks"]}
    for cid in ("dcs.members_healthy", "dcs.cluster_members", "dcs.failsafe_mode"):
        assert got[cid]["ok"], got[cid]
    assert len(got["dcs.cluster_members"]["actual"]) == 3


def test_a_frozen_store_does_not_stop_the_writes(env: Env):
    code, r = _drill(env, "--freeze", "--seconds", "30")
    assert code == 0 and r["ok"], r
    assert r["longest_write_gap_s"] <= 5 and r["lost_commits"] == 0, r
    assert r["etcd_whole"] and r["cluster_whole"] and len(r["frozen"]) == 3


def test_losing_one_etcd_member_is_a_non_event(env: Env):
    code, r = _drill(env, "--kill", "--seconds", "10")
    assert code == 0 and r["ok"], r
    assert r["longest_write_gap_s"] <= 1 and r["lost_commits"] == 0, r
    assert r["etcd_whole"] and r["cluster_whole"], r


def test_the_drill_refuses_two_faults_at_once(env: Env):
    res = env.run("drill", "dcs", "--kill", "--freeze", check=False)
    assert res.returncode == 2 and "choose one" in res.stderr
