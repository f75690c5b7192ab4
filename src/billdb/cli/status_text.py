"""`billdb status` for people: what the README promises (role, state, lag, timeline, ports,
PIDs, data directories, supervisord's uptime and restarts), in tables that fit 80 columns
without cutting a time, a size or a role."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from billdb import times
from billdb.cli.cells import cell, lines
from billdb.cli.tables import table


def _supervised(row: dict[str, Any]) -> dict[str, Any]:
    sup = row.get("supervisor") if isinstance(row.get("supervisor"), dict) else row
    uptime = sup.get("uptime_s")
    return {"uptime": times.duration(uptime) if isinstance(uptime, int | float) else None,
            "restarts": sup.get("restarts"),
            "supervisor": sup.get("supervisor_state") or sup.get("supervisor")}


def members(report: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(health rows, where rows) of the members."""
    health, where = [], []
    for m in report["members"]:
        sup = _supervised(m)
        health.append(m | {"lag_bytes": m.get("lag_bytes"), **sup})
        where.append(m | {"ports": f"{m['port']} (REST {m.get('rest_port', '-')})",
                          "pids": f"{m.get('pid') or '-'} (Patroni {m.get('patroni_pid') or '-'})"})
    return health, where


def render(report: dict[str, Any], con: Console, tz: str) -> None:
    con.print(f"state directory: {report['state_dir']}", highlight=False, soft_wrap=True)
    health, where = members(report)
    con.print(table("members (now)", ("name", "role", "state", "lag_bytes", "timeline",
                                      "uptime", "restarts"), health,
                    ("name", "role", "state", "lag", "timeline", "uptime", "restarts"), tz=tz))
    con.print(table("members: ports and PIDs", ("name", "ports", "pids"), where,
                    ("name", "ports", "PIDs"), tz=tz))
    # Paths on lines of their own, whole, to copy and paste (a table would fold them).
    con.print("data directories:\n" + "\n".join(f"  {m['name']}: {m['data_dir']}"
                                                 for m in report["members"]),
              highlight=False, soft_wrap=True)
    services = [s | _supervised(s) for s in report.get("services", [])]
    con.print(table("services", ("name", "state", "pid", "uptime", "restarts"), services,
                    tz=tz))
    _backup(report.get("backup") or {}, con, tz)
    mon = report.get("monitoring") or {}
    if mon:
        con.print(f"monitoring: {mon['prometheus_url']} (alerts {mon['alerts_url']}); firing: "
                  f"{', '.join(mon['firing']) or 'none'} (see billdb alerts)", highlight=False,
                  soft_wrap=True)


def _backup(backup: dict[str, Any], con: Console, tz: str) -> None:
    last = [{"repo": repo} | b for repo, b in (backup.get("last_backups") or {}).items()
            if isinstance(b, dict)]
    if last:
        con.print(table("last backups", ("repo", "label", "type", "stop"), last, tz=tz))
    elif backup.get("stanza_status"):
        con.print(f"backups: {backup['stanza_status']}", highlight=False, soft_wrap=True)
    arch = backup.get("archiver")
    if isinstance(arch, dict):
        con.print("archiving:\n" + "\n".join(lines(arch, tz, 1)), highlight=False,
                  soft_wrap=True)
    elif arch:
        con.print(f"archiving: {arch}", highlight=False, soft_wrap=True)
    con.print(f"last dump: {cell(backup.get('last_dump'), tz)}", highlight=False)
