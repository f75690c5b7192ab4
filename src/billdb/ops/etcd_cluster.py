"""The etcd cluster converged by `up`: a fresh environment starts every member at once; one
made with fewer members grows one member at a time (`member add`, then the new member starts
with initial-cluster-state existing), waiting for the quorum after each (engines/etcd.py)."""

from __future__ import annotations

from billdb.context import Context
from billdb.engines import etcd, process
from billdb.engines.http import HttpError
from billdb.errors import StepError
from billdb.retry import retry

HEALTHY_S = 30
ADD_S = 30


def _start(ctx: Context, m: etcd.EtcdMember) -> bool:
    svc = etcd.service(ctx.local, ctx.layout, m)
    _, started = process.start(svc)
    return started


def _quorum(ctx: Context, what: str) -> None:
    if not etcd.wait_healthy(ctx.local, ctx.layout, HEALTHY_S):
        raise StepError("etcd", f"no quorum {HEALTHY_S} s after {what}",
                        str(etcd.service(ctx.local, ctx.layout).logfile))


def _grow(ctx: Context, m: etcd.EtcdMember, seed: etcd.EtcdMember) -> None:
    """Add `m` to the running cluster (unless a killed run already did) and start it."""
    listed = etcd.member_list(seed)
    if not any(m.peer_url in x.get("peerURLs", []) for x in listed):
        # etcd refuses a new voter ("unhealthy cluster") until every member has been
        # connected for 5 s: a member that just started or joined makes it wait.
        try:
            retry(lambda: etcd.member_add(seed, m), ADD_S, 1.0, on=HttpError)
        except HttpError as exc:
            raise StepError("etcd", f"adding {m.name} failed: {exc}",
                            str(etcd.service(ctx.local, ctx.layout, seed).logfile)) from None
        listed = etcd.member_list(seed)
    initial = ",".join(f"{x.get('name') or m.name}={x['peerURLs'][0]}" for x in listed)
    etcd.write_config(m, initial, "existing")
    _start(ctx, m)
    _quorum(ctx, f"{m.name} joined")


def ensure(ctx: Context) -> tuple[bool, str]:
    ms = etcd.members(ctx.local, ctx.layout)
    with_data = [m for m in ms if m.has_data()]
    if not with_data:  # a new cluster: every member at once
        for m in ms:
            etcd.write_config(m, etcd.initial_cluster(ms), "new")
        started = [m.name for m in ms if _start(ctx, m)]
        _quorum(ctx, "the start")
        return bool(started), f"{len(ms)} members, started {', '.join(started) or 'none'}"
    started = []
    for m in with_data:  # a config written now only names the member: it has data already
        etcd.write_config(m, etcd.initial_cluster([m]), "new")
        if _start(ctx, m):
            started.append(m.name)
    _quorum(ctx, "the start")
    grown = []
    for m in ms:
        if m not in with_data:
            _grow(ctx, m, next(x for x in with_data if etcd.member_healthy(x)))
            with_data.append(m)
            grown.append(m.name)
    detail = f"{len(ms)} members" + (f", started {', '.join(started)}" if started else "") + (
        f", added {', '.join(grown)}" if grown else "")
    return bool(started or grown), detail if (started or grown) else f"{detail}, running"
