"""Patroni: runs each PostgreSQL member and decides leadership. billdb only talks to it.

The REST API (GET /patroni, /cluster, /config; PATCH /config; POST /restart, /reload,
/switchover, /failover) is the whole interface; no failover logic lives in billdb.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from billdb.engines import process
from billdb.engines.http import HttpError, request
from billdb.engines.tools import venv_script
from billdb.layout import Layout
from billdb.plan.local_models import LocalEnvironment, Member


def executable() -> Path:
    return venv_script("patroni")


def service(env: LocalEnvironment, layout: Layout, member: Member) -> process.Service:
    paths = layout.member(member.name)
    return process.Service(
        name=f"patroni {member.name}",
        argv=[str(executable()), str(paths.config)],
        pidfile=paths.pidfile,
        logfile=paths.log,
        user=env.os_user,
        env={"PATH": f"{env.postgres_bin}:/usr/bin:/bin"},
        supervisor=layout.supervisor_dir,
        priority=200,
        stop_timeout=120,  # Patroni stops its postmaster (fast) before it exits
        startsecs=2,
        companion=paths.data / "postmaster.pid",
    )


@dataclass(frozen=True)
class NodeStatus:
    """GET /patroni: one member's own view of itself (the cluster's view is
    state.cluster.ClusterState, read from /cluster)."""

    state: str  # "running", "starting", "stopped", "restarting", "crashed", ...
    role: str  # "primary", "replica", "standby_leader", ...
    timeline: int | None
    pending_restart: bool

    @classmethod
    def from_api(cls, body: Mapping[str, object]) -> NodeStatus:
        tl = body.get("timeline")
        return cls(state=str(body.get("state") or "unknown"),
                   role=str(body.get("role") or "unknown"),
                   timeline=tl if isinstance(tl, int) else None,
                   pending_restart=bool(body.get("pending_restart")))

    @property
    def running(self) -> bool:
        """PostgreSQL accepts connections (Patroni answers during a restart or rebuild too)."""
        return self.state == "running"


@dataclass(frozen=True)
class TimelineSwitch:
    """One row of GET /history, as `patronictl history` prints it: the timeline that ended,
    the LSN where it ended, and when and to which leader the next one began."""

    ended_timeline: int
    at: datetime | None
    new_leader: str | None

    @property
    def timeline(self) -> int:
        """The timeline that began."""
        return self.ended_timeline + 1

    @classmethod
    def from_api(cls, row: Sequence[object]) -> TimelineSwitch | None:
        """[timeline, lsn, reason, timestamp, new leader]; Patroni adds the last two, so rows
        written before it ran have neither."""
        if not row or not isinstance(row[0], int):
            return None
        stamp = row[3] if len(row) > 3 and isinstance(row[3], str) else None
        leader = row[4] if len(row) > 4 and isinstance(row[4], str) else None
        return cls(row[0], datetime.fromisoformat(stamp) if stamp else None, leader)


class PatroniAPI:
    """The REST API of one member."""

    def __init__(self, member: Member, timeout: float = 5.0) -> None:
        self.member = member
        self.base = f"http://127.0.0.1:{member.rest_port}"
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None,
              timeout: float | None = None) -> tuple[int, Any]:
        return request(method, self.base + path, body, timeout or self.timeout)

    def status(self) -> NodeStatus | None:
        """GET /patroni (any HTTP status carries the state), None when unreachable."""
        try:
            _, body = self._call("GET", "/patroni", timeout=2)
        except HttpError:
            return None
        return NodeStatus.from_api(body) if isinstance(body, dict) else None

    def cluster(self) -> Mapping[str, object] | None:
        """GET /cluster's JSON document; its one reader, state.cluster, types it."""
        try:
            status, body = self._call("GET", "/cluster", timeout=2)
        except HttpError:
            return None
        return body if status == 200 and isinstance(body, dict) else None

    def history(self) -> list[TimelineSwitch] | None:
        """GET /history: the cluster's timeline switches, None when unreachable."""
        try:
            status, body = self._call("GET", "/history", timeout=3)
        except HttpError:
            return None
        if status != 200 or not isinstance(body, list):
            return None
        return [s for s in (TimelineSwitch.from_api(r) for r in body if isinstance(r, list)) if s]

    def config(self) -> Mapping[str, Any]:
        """GET /config: the dynamic configuration document in the DCS (what `up` compares with
        the rendered one and patches; converge.parameters.dcs_patch reads it)."""
        status, body = self._call("GET", "/config")
        if status != 200 or not isinstance(body, dict):
            raise HttpError(status, str(body))
        return body

    def patch_config(self, patch: dict[str, Any]) -> None:
        status, body = self._call("PATCH", "/config", patch)
        if status != 200:
            raise HttpError(status, str(body))

    def restart(self, timeout: float = 120) -> None:
        status, body = self._call("POST", "/restart", {}, timeout=timeout)
        if status != 200:
            raise HttpError(status, str(body))

    def reload(self) -> None:
        status, body = self._call("POST", "/reload", {})
        if status not in (200, 202):
            raise HttpError(status, str(body))

    def switchover(self, leader: str, candidate: str | None, timeout: float = 60) -> str:
        body: dict[str, Any] = {"leader": leader}
        if candidate:
            body["candidate"] = candidate
        status, resp = self._call("POST", "/switchover", body, timeout=timeout)
        if status != 200:
            raise HttpError(status, str(resp))
        return str(resp)


