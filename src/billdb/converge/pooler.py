"""PgBouncer's settings (§5.2 connection pool, docs/topology.md built-in PgBouncer).

desired: `render.pgbouncer.settings`, the [pgbouncer] section of pgbouncer.ini, typed (the
         file is written from the same list).
observe: SHOW CONFIG on PgBouncer's console (`state.pooler.config`), reads only.
checks:  `pooler.<setting>` for each desired setting, compared by value (a count as a
         number); `pooler.config` alone when the console does not answer.
apply:   write pgbouncer.ini (with the [databases] targets the caller gives), then start
         PgBouncer, restart it when a drifted setting is one SHOW CONFIG calls not
         changeable (e.g. listen_port, pkt_buf: a reload would keep the old value), or reload
         it.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from billdb.context import Context
from billdb.converge.core import Check, Drift, diff, equal
from billdb.engines import pgbouncer, process
from billdb.engines.pgbouncer import PoolerPaths
from billdb.render import pgbouncer as render
from billdb.render.pgbouncer import IniSetting
from billdb.state import pooler as console
from billdb.state.pooler import ConfigRow

S_POOL = "§5.2 connection pool"


@dataclass(frozen=True)
class Observed:
    """SHOW CONFIG by setting, or why the console did not answer."""

    config: dict[str, ConfigRow]
    error: str | None = None


def files(ctx: Context) -> render.PoolerFiles:
    lay = ctx.layout
    return render.PoolerFiles(auth_file=PoolerPaths.of(lay).auth_file, ca_cert=lay.ca_cert,
                              server_cert=lay.server_cert, server_key=lay.server_key)


def desired(ctx: Context) -> list[IniSetting]:
    """Pure: the plan and the state directory's paths, nothing read."""
    return render.settings(ctx.plan, files(ctx), ctx.local.pooler_port)


def observe(ctx: Context) -> Observed:
    try:
        return Observed(console.config(ctx))
    except psycopg.Error as exc:
        return Observed({}, str(exc).strip()[:200])


def _value(want: IniSetting, row: ConfigRow | None) -> int | str | None:
    """What PgBouncer shows, typed as the plan types the setting."""
    if row is None:
        return None
    if isinstance(want.value, int):
        try:
            return int(row.value)
        except ValueError:
            return row.value
    return row.value


def checks(want: list[IniSetting], found: Observed) -> list[Check]:
    if found.error is not None:
        return [Check("pooler.config", S_POOL, "readable", found.error, False)]
    return [equal(f"pooler.{s.name}", S_POOL, s.value, _value(s, found.config.get(s.name)))
            for s in want]


def write_ini(ctx: Context, primary: int, read: int) -> bool:
    """pgbouncer.ini with the write alias on `primary` and the read alias on `read`; True when
    the file changed."""
    text = render.pgbouncer_ini(ctx.plan, files(ctx), ctx.local.pooler_port, primary, read)
    return pgbouncer.write_file(PoolerPaths.of(ctx.layout).ini, text, 0o644)


def _restart_needed(found: Observed, drifts: list[Drift], ini_changed: bool) -> bool:
    """A drifted setting only a restart changes; when the console did not answer, any change
    of the file."""
    if found.error is not None:
        return ini_changed
    rows = [found.config.get(d.id.removeprefix("pooler.")) for d in drifts]
    return any(row is None or not row.changeable for row in rows)


def apply(ctx: Context, primary: int, read: int, auth_changed: bool = False) -> tuple[int, str]:
    """Bring PgBouncer to the plan: (its pid, "started", "restarted", "reloaded" or
    "running" when nothing changed)."""
    svc = pgbouncer.service(ctx.local, ctx.layout)
    running = process.running_pid(svc)
    found = observe(ctx) if running else Observed({})
    drifts = diff(checks(desired(ctx), found)) if running and found.error is None else []
    ini_changed = write_ini(ctx, primary, read)
    restart = bool(running) and _restart_needed(found, drifts, ini_changed)
    if restart:
        process.stop(svc)
    pid, started = process.start(svc)
    if started:
        return pid, "restarted" if restart else "started"
    if ini_changed or auth_changed or drifts:
        pgbouncer.reload(svc)
        return pid, "reloaded"
    return pid, "running"
