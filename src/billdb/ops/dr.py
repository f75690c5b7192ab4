"""`billdb dr rebuild`: after a region failover, bring the zone pair back around the promoted
replica, then fail back to a zone so the topology is the plan's again.

Journaled (billdb.ops.journal): `zone members`, `rejoin`, `replication`, `fail back`, `dr state`
and `up`, every one resumable: each reads what is there first (`fail back` asks Patroni for a
switchover only while the promoted replica still leads), so a rerun after a kill carries on."""

from __future__ import annotations

from collections.abc import Callable

from billdb.context import Context
from billdb.engines.http import HttpError
from billdb.engines.patroni import PatroniAPI
from billdb.errors import BilldbError, StepError
from billdb.ops import journal, provision
from billdb.ops.steps import StepResult, Steps
from billdb.retry import wait_until
from billdb.state import cluster


def _start_zones(ctx: Context) -> tuple[bool, str]:
    """Start the zone members and wait until each one's PostgreSQL accepts connections
    (rebuilt from the promoted replica, or rewound), as `up` does."""
    started = [m.name for m in ctx.members
               if m.kind == "zone" and provision.ensure_member(ctx, m)[0]]
    return bool(started), f"started {', '.join(started)}" if started else "zone members running"


def _fail_back(ctx: Context) -> tuple[bool, str]:
    lead = cluster.leader(ctx)
    if lead.kind == "zone":
        return False, f"{lead.name} (a zone member) is already the primary"
    zones = {m.name for m in ctx.members if m.kind == "zone"}
    sync = [m.name for m in cluster.observe(ctx).with_role(cluster.Role.SYNC_STANDBY)
            if m.name in zones]
    if not sync:
        raise StepError("fail back", "no zone member is the synchronous standby yet")
    try:
        PatroniAPI(lead, timeout=60).switchover(lead.name, sync[0])
    except HttpError as exc:
        raise StepError("fail back", f"Patroni refused the switchover: {exc.body}") from None
    if not wait_until(lambda: cluster.leader_name(ctx) == sync[0], 60):
        raise StepError("fail back", f"{sync[0]} did not become the primary")
    return True, f"switched {lead.name} -> {sync[0]}"


def _clear_dr_state(ctx: Context) -> tuple[bool, str]:
    ctx.layout.dr_file.unlink(missing_ok=True)
    provision.write_member_configs(ctx)
    return True, "read replica is read-only and never promoted automatically again"


def _up(ctx: Context, steps: Steps) -> str:
    provision.up(ctx, steps)
    return "plan applied"


def rebuild(ctx: Context, steps: Steps) -> Steps:
    def prepare() -> dict:
        if not provision.dr_state(ctx) and cluster.leader(ctx).kind == "zone":
            raise BilldbError("no region failover in effect (nothing to rebuild): use "
                              "`billdb up`")
        return {}

    def step(name: str, fn: Callable[[], tuple[bool, str]]) -> journal.Step:
        return journal.Step(name, lambda _j: steps.run(name, fn).detail)

    journal.run(journal.directory(ctx.layout.state_dir), "dr rebuild", {}, [
        step("zone members", lambda: _start_zones(ctx)),
        step("rejoin", lambda: provision.ensure_parameters(ctx)),
        step("replication", lambda: provision.wait_replication(ctx)),
        step("fail back", lambda: _fail_back(ctx)),
        step("dr state", lambda: _clear_dr_state(ctx)),
        journal.Step("up", lambda _j: _up(ctx, steps)),
    ], command="billdb dr rebuild", prepare=prepare, progress=lambda m: steps.on_done(
        StepResult("journal", False, m)))
    return steps
