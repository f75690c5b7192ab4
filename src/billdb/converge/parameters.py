"""Cluster parameters (§5.1, §10.3, §3.2, §9.1, §2.2): the plan's values against pg_settings.

desired: render/parameters.cluster_settings (the plan, scaled to the local memory budget).
observe: pg_settings of every member, the primary first (sql/verify/parameters.sql).
checks:  one check per parameter on the primary, one summary check per other member; a
         parameter that waits for a restart is a drift until the member restarted.
apply:   patch Patroni's DCS configuration, wait until every member took the new values
         (or waits for a restart), then restart those pending: standbys first, the primary
         last, so a standby never runs with a smaller max_connections than its primary.
Values are compared through billdb.state.pgvalues (units and vartypes as PostgreSQL has them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.converge.core import Check, Drift, diff, require_converged
from billdb.engines.http import HttpError
from billdb.engines.patroni import PatroniAPI
from billdb.errors import BilldbError, StepError
from billdb.plan.models import Plan
from billdb.render.parameters import PgValue, Setting, cluster_settings, conf_text
from billdb.render.patroni import dcs_config
from billdb.render.pgbackrest import member_parameters
from billdb.retry import wait_until
from billdb.state import cluster
from billdb.state.pgvalues import SettingRow, matches, read_settings

S_PARAMS = "§5.1 parameters"
STEP = "cluster parameters"
Local = dict[str, dict[str, str]]  # member -> the values its own Patroni config overrides


@dataclass(frozen=True)
class Observed:
    """pg_settings per member, the primary first; a member that cannot be read has the
    error text instead of its rows."""

    leader: str
    members: dict[str, dict[str, SettingRow] | str]


def desired(plan: Plan, env_name: str = "local") -> list[Setting]:
    return cluster_settings(plan, env_name)


def local_values(ctx: Context) -> Local:
    """Per-member values (archive_command names the member's data directory): each member's
    local Patroni config overrides the DCS with them, so they are what it must show."""
    return {m.name: member_parameters(ctx.plan, ctx.layout, m.name) for m in ctx.members}


def for_member(settings: list[Setting], local: dict[str, str]) -> list[Setting]:
    """The settings one member must show: the cluster's, with its own values in place (pure)."""
    return [replace(s, value=local[s.name]) if s.name in local else s for s in settings]


def observe(ctx: Context, settings: list[Setting]) -> Observed:
    lead = cluster.leader(ctx)
    order = [lead, *[m for m in ctx.members if m.name != lead.name]]
    return Observed(lead.name, {m.name: observe_member(ctx, m, settings) for m in order})


def evaluate(s: Setting, row: SettingRow | None) -> tuple[PgValue, bool, bool]:
    """(what the member shows, typed as the plan's value; whether it equals the plan's
    value; pending a restart)."""
    if row is None:
        return "unknown parameter", False, False
    actual = row.value
    if row.pending_restart:
        actual = f"{conf_text(actual)} (pending restart)"
    same = matches(s.name, s.text, row.setting, row.unit, row.vartype)
    return actual, same, row.pending_restart


def checks(settings: list[Setting], observed: Observed, local: Local | None = None) \
        -> list[Check]:
    out: list[Check] = []
    for name, rows in observed.members.items():
        if isinstance(rows, str):
            out.append(Check(f"param.{name}", S_PARAMS, "reachable", rows, False))
            continue
        wrong = []
        for s in for_member(settings, (local or {}).get(name, {})):
            actual, same, pending = evaluate(s, rows.get(s.name))
            ok = same and not pending
            if name == observed.leader:
                out.append(Check(f"param.{s.name}", s.section, s.value, actual, ok))
            elif not ok:
                wrong.append(f"{s.name}={conf_text(actual)}")
        if name != observed.leader:
            out.append(Check(f"param.{name}.all", S_PARAMS, "same as the plan",
                             ", ".join(wrong) or "same as the plan", not wrong))
    return out


def waiting_only(settings: list[Setting], rows: dict[str, SettingRow] | str) -> bool:
    """Every parameter has the plan's value or waits for a restart: the member has taken
    the DCS change, and only a restart is left."""
    if isinstance(rows, str):
        return False
    for s in settings:
        _, same, pending = evaluate(s, rows.get(s.name))
        if not (same or pending):
            return False
    return True


def dcs_patch(want: dict[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that turns Patroni's DCS configuration `current` into `want`: changed
    top-level keys, the two managed postgresql flags, and parameters (None removes one)."""
    patch = {k: v for k, v in want.items() if k != "postgresql" and current.get(k) != v}
    cur_pg, want_pg = current.get("postgresql", {}), want["postgresql"]
    pg_patch = {k: want_pg[k] for k in ("use_pg_rewind", "use_slots")
                if cur_pg.get(k) != want_pg[k]}
    have = {k: str(v) for k, v in (cur_pg.get("parameters") or {}).items()}
    params: dict[str, Any] = {k: v for k, v in want_pg["parameters"].items() if have.get(k) != v}
    params.update({k: None for k in have if k not in want_pg["parameters"]})
    if params:
        pg_patch["parameters"] = params
    if pg_patch:
        patch["postgresql"] = pg_patch
    return patch


def patched_names(patch: dict[str, Any]) -> list[str]:
    params = (patch.get("postgresql") or {}).get("parameters") or {}
    return sorted((set(patch) - {"postgresql"}) | set(params))


# A standby's value must be at least the primary's (PostgreSQL: "Hot Standby"; Patroni keeps
# pg_controldata's value on a standby otherwise): raised on standbys first, lowered on the
# primary first.
AT_LEAST_PRIMARY = frozenset({"max_connections", "max_prepared_transactions",
                              "max_locks_per_transaction", "max_worker_processes",
                              "max_wal_senders"})


def lowering(settings: list[Setting], leader_rows: dict[str, SettingRow] | str) -> bool:
    """The plan lowers one of AT_LEAST_PRIMARY below what the primary runs with (pure)."""
    if isinstance(leader_rows, str):
        return False
    for s in settings:
        row = leader_rows.get(s.name)
        if s.name in AT_LEAST_PRIMARY and row is not None and int(s.text) < int(row.setting):
            return True
    return False


def restart_order(members: list[str], leader: str, lower: bool = False) -> list[str]:
    """Standbys first and the primary last; the other way round when lowering."""
    return sorted(members, key=lambda name: (name == leader) != lower)


def needs_restart(settings: list[Setting], rows: dict[str, SettingRow] | str) -> bool:
    """A restart-only parameter differs from the plan or waits for a restart (pure)."""
    if isinstance(rows, str):
        return False
    for s in settings:
        row = rows.get(s.name)
        if row is not None and row.needs_restart:
            _, same, pending = evaluate(s, row)
            if pending or not same:
                return True
    return False


def _running(m) -> bool:
    """PostgreSQL accepts connections: Patroni answers during a rebuild or restart too."""
    st = PatroniAPI(m).status()
    return st is not None and st.running


def _pending_restart(ctx: Context, m) -> bool:
    with cluster.admin_connect(ctx, m) as conn:
        return bool(conn.execute(sqlfiles.load("provision/pending_restart")).fetchone()[0])


def apply(ctx: Context, settings: list[Setting], patch: dict[str, Any]) -> list[str]:
    """Patch the DCS, wait for every member to take it, restart the pending ones in order."""
    lead = cluster.leader(ctx)
    local = local_values(ctx)
    notes = []
    if patch:
        PatroniAPI(lead).patch_config(patch)
        notes.append(f"patched {', '.join(patched_names(patch))}")
        for m in ctx.members:
            def took(m=m) -> bool:
                return waiting_only(for_member(settings, local[m.name]),
                                    observe_member(ctx, m, settings))
            if _running(m) and not wait_until(took, 30, 1.0):
                raise StepError(STEP, f"{m.name} did not apply the new settings",
                                str(ctx.layout.member(m.name).log))
    lower = lowering(settings, observe_member(ctx, lead, settings))
    restarted = restart_pass(ctx, settings, restart_order(
        [m.name for m in ctx.members], lead.name, lower))
    if restarted:
        notes.append(f"restarted {', '.join(restarted)} for pending parameters")
    return notes


def restart_pass(ctx: Context, settings: list[Setting], order: list[str]) -> list[str]:
    """Restart, in `order`, each running member that waits for a restart or whose
    restart-only parameters differ from the plan (Patroni may have kept a standby's old
    value from pg_controldata until the primary's change reached it)."""
    restarted = []
    for name in order:
        m = ctx.member(name)
        # A loaded member's Patroni may answer late: give it a while before passing it by
        # (passed by, it is restarted only after the primary, out of order).
        if not wait_until(lambda m=m: _running(m), 15, 1.0):
            continue
        if not (_pending_restart(ctx, m) or needs_restart(settings,
                                                          observe_member(ctx, m, settings))):
            continue
        try:
            PatroniAPI(m).restart()
        except HttpError as exc:
            raise StepError(STEP, f"restart of {m.name} failed: {exc}",
                            str(ctx.layout.member(m.name).log)) from None
        restarted.append(m.name)
        wait_until(lambda m=m: _running(m), 60)
    return restarted


def observe_member(ctx: Context, m, settings: list[Setting]) -> dict[str, SettingRow] | str:
    try:
        with cluster.admin_connect(ctx, m) as conn:
            return read_settings(conn, [s.name for s in settings])
    except Exception as exc:
        return str(exc)


def converge(ctx: Context) -> tuple[bool, str]:
    """`up`'s step: apply the DCS patch and the parameter drifts, then prove none is left."""
    settings = desired(ctx.plan, ctx.env_name)
    patch = dcs_patch(dcs_config(ctx.plan, ctx.env_name),
                      PatroniAPI(cluster.leader(ctx)).config())
    local = local_values(ctx)
    drifts = diff(checks(settings, observe(ctx, settings), local))
    notes = apply(ctx, settings, patch)  # also restarts a member pending for any parameter
    if not drifts and not notes:
        return False, "as planned"
    left: list[Drift] = []

    def settled() -> bool:
        nonlocal left
        try:  # right after a restart the cluster view may not show a running leader yet
            left = diff(checks(settings, observe(ctx, settings), local))
        except BilldbError as exc:
            left = [Drift("param.reachable", S_PARAMS, "a running primary", str(exc))]
        return not left

    for _ in range(3):  # a standby lowered after its primary may need a second restart
        if wait_until(settled, 15, 1.0):
            break
        lead = cluster.leader(ctx).name
        again = restart_pass(ctx, settings, [m.name for m in ctx.members if m.name != lead])
        if again:
            notes.append(f"restarted {', '.join(again)} again once the primary's value "
                         "reached them")
    require_converged(STEP, left)
    return bool(notes), "; ".join(notes) if notes else "as planned"
