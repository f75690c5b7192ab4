"""The consensus store (§2.2 HA): every etcd member healthy, the quorum whole, and Patroni's
failsafe mode on, so a stalled store does not stop the writes (issue 22)."""

from __future__ import annotations

from collections.abc import Iterator

from billdb.context import Context
from billdb.engines import etcd
from billdb.engines.http import HttpError
from billdb.engines.patroni import PatroniAPI
from billdb.errors import BilldbError
from billdb.ops.verify.check import Check
from billdb.render.patroni import dcs_config
from billdb.state import cluster

S_HA = "§2.2 HA"


def checks(ctx: Context) -> Iterator[Check]:
    ms = etcd.members(ctx.local, ctx.layout)
    healthy = [m.name for m in ms if etcd.member_healthy(m)]
    yield Check("dcs.members_healthy", S_HA, f"{len(ms)} etcd members healthy",
                ", ".join(healthy) or "none", len(healthy) == len(ms))
    listed: list[str] = []
    for m in ms:
        if m.name in healthy:
            try:
                listed = sorted(x.get("name") or "(added, not started)"
                                for x in etcd.member_list(m))
            except HttpError:
                continue
            break
    yield Check("dcs.cluster_members", S_HA, sorted(m.name for m in ms), listed,
                listed == sorted(m.name for m in ms))
    want = dcs_config(ctx.plan)["failsafe_mode"]
    try:
        actual = bool(PatroniAPI(cluster.leader(ctx)).config().get("failsafe_mode"))
    except (HttpError, BilldbError) as exc:  # no leader, or its API does not answer
        yield Check("dcs.failsafe_mode", S_HA, want, f"unknown: {exc}"[:200], False)
        return
    yield Check("dcs.failsafe_mode", S_HA, want, actual, actual == want)
