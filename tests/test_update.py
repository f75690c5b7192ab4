"""`billdb update`: the rolling restart onto installed binaries, standbys first, a measured
switchover, then the old primary; killed half way, a rerun finishes it (real servers).

No new package is installed here (that would change the machine under other environments):
--force rolls through members that already run the installed binaries, which exercises every
step; the evidence of each restart is the member's new postmaster start time."""

from __future__ import annotations

import json

from billdb.ops import journal
from conftest import Env
from test_journal import _kill_at


def _report(env: Env, *args: str) -> dict:
    res = env.run("update", *args, "--json", check=False, timeout=600)
    assert res.stdout, res.stderr
    return json.loads(res.stdout)


def test_nothing_to_update_without_force(env: Env) -> None:
    report = _report(env)
    assert report["ok"] and report["changed"] is False
    assert set(report["running"].values()) == {report["installed"]}


def test_update_rolls_standbys_first_then_switches_over(env: Env) -> None:
    report = _report(env, "--force")
    assert report["ok"], report
    old_primary = report["switchover"]["from"]
    order = report["order"]
    assert order[-2:] == ["switchover", old_primary] and order[0] == "replica", order
    assert report["switchover"]["to"] == order[1]  # the zone standby restarted just before
    for name, r in report["restarts"].items():  # every member restarted, on the installed version
        assert r["after"]["started_at"] > r["before"]["started_at"], name
        assert r["after"]["version"] == report["installed"]
    assert set(report["restarts"]) == {"zone1", "zone2", "replica"}
    assert report["lost_commits"] == 0 and report["write_gap_s"] is not None
    assert report["write_gap_s"] < 10, report["switchover"]
    print(f"\nrolling update: write gap {report['write_gap_s']} s (switchover "
          f"{report['switchover']['switch_s']} s), {report['failed_commits']} failed commits; "
          + ", ".join(f"{n} streaming again after {r['streaming_again_s']} s"
                      for n, r in report["restarts"].items()))


def test_killed_update_is_finished_by_a_rerun(env: Env) -> None:
    """Killed after the switchover, before the old primary's restart: the rerun skips what is
    done and restarts the old primary."""
    leader = next(m["name"] for m in json.loads(env.run("status", "--json").stdout)["members"]
                  if m["role"] == "primary")
    _kill_at(env, f"restart {leader}", "update", "--force")
    [doc] = journal.open_journals(journal.directory(env.state_dir))
    assert doc["op"] == "update"
    report = _report(env, "--force")
    assert report["ok"], report
    assert report["journal"]["resumed"] and f"restart {leader}" in report["journal"][
        "resumed_steps"]
    assert "switchover" in report["journal"]["skipped"]
    assert leader in report["restarts"]
    assert not journal.open_journals(journal.directory(env.state_dir))
