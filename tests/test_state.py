"""The state layer's reading of Patroni's `/cluster` answer into a typed ClusterState."""

from __future__ import annotations

import pytest

from billdb.state.cluster import ClusterState, Role, State

# The shape of Patroni 4's GET /cluster (docs: rest_api.html#cluster-status-endpoint).
BODY = {"members": [
    {"name": "zone1", "role": "leader", "state": "running", "api_url": "http://x/patroni",
     "host": "127.0.0.1", "port": 5432, "timeline": 5},
    {"name": "zone2", "role": "sync_standby", "state": "streaming", "host": "127.0.0.1",
     "port": 5433, "timeline": 5, "lag": 0, "receive_lag": 0, "replay_lag": 0},
    {"name": "replica", "role": "replica", "state": "start failed", "port": 5434,
     "lag": "unknown", "tags": {"nofailover": True}, "pending_restart": True},
], "scope": "bill-inquiry"}


@pytest.mark.unit
def test_members_read_into_roles_states_and_numbers():
    state = ClusterState.from_api(BODY)
    z1, z2, rep = state.members
    assert (z1.role, z1.state, z1.timeline, z1.port) == (Role.LEADER, State.RUNNING, 5, 5432)
    assert z1.leads and z1.settled and not z1.streaming
    assert (z2.role, z2.lag_bytes) == (Role.SYNC_STANDBY, 0) and z2.streaming and z2.settled
    assert rep.state is State.START_FAILED and rep.lag_bytes is None  # "unknown" is no number
    assert rep.nofailover and rep.pending_restart and not rep.settled
    assert state.leader == z1 and [m.name for m in state.with_role(Role.SYNC_STANDBY)] == ["zone2"]
    assert state.member("nope") is None and state.names == {"zone1", "zone2", "replica"}


@pytest.mark.unit
def test_one_rule_for_a_live_leader():
    """A leader that is not running does not lead (restarting after a crash); a standby
    leader leads while it runs or streams; anything Patroni adds later reads as unknown."""
    def lead(role: str, st: str) -> bool:
        return ClusterState.from_api({"members": [{"name": "a", "role": role,
                                                   "state": st}]}).leader is not None
    assert lead("leader", "running") and not lead("leader", "starting")
    assert not lead("leader", "streaming") and lead("standby_leader", "streaming")
    odd = ClusterState.from_api({"members": [{"name": "a", "role": "x", "state": "y"}]})
    assert (odd.members[0].role, odd.members[0].state) == (Role.UNKNOWN, State.UNKNOWN)
    assert ClusterState.from_api({}).members == () and ClusterState.from_api(
        {"members": "bad"}).leader is None


@pytest.mark.unit
def test_a_members_own_status_is_typed():
    from billdb.engines.patroni import NodeStatus

    # The shape of Patroni 4's GET /patroni (docs: rest_api.html#health-check-endpoints).
    st = NodeStatus.from_api({"state": "running", "role": "primary", "timeline": 3,
                              "postmaster_start_time": "2026-12-06 08:00:00+00:00",
                              "patroni": {"version": "4.1.5", "scope": "bill-inquiry"}})
    assert (st.state, st.role, st.timeline, st.pending_restart, st.running) == (
        "running", "primary", 3, False, True)
    starting = NodeStatus.from_api({"state": "starting", "role": "replica",
                                    "pending_restart": True})
    assert not starting.running and starting.timeline is None and starting.pending_restart


@pytest.mark.unit
def test_the_timeline_history_is_typed():
    from datetime import UTC, datetime

    from billdb.engines.patroni import TimelineSwitch

    # The shape of GET /history (docs: rest_api.html#history-endpoint): Patroni adds the time
    # and the new leader to PostgreSQL's history file, so older rows may lack them.
    rows = [[1, 25623960, "no recovery target specified", "2026-12-01T16:57:57+09:00"],
            [2, 25624344, "no recovery target specified", "2026-12-06T09:22:33+09:00", "zone2"],
            ["x"], []]
    first, second = [s for s in map(TimelineSwitch.from_api, rows) if s]
    assert (first.ended_timeline, first.timeline, first.new_leader) == (1, 2, None)
    assert second.timeline == 3 and second.new_leader == "zone2"
    assert second.at == datetime(2026, 12, 6, 0, 22, 33, tzinfo=UTC)
