"""What the running cluster looks like, as Patroni reports it, and connections to it.

Patroni's `/cluster` answer is read here only, into a typed ClusterState: status, verify,
the drills, the incident timeline and the operations all ask it the same questions (who
leads, who streams, who is the synchronous standby) and get the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from billdb.context import Context
from billdb.engines import postgres
from billdb.engines.patroni import PatroniAPI
from billdb.errors import BilldbError
from billdb.internal import SUPERUSER
from billdb.plan.local_models import Member


class _Named(StrEnum):
    """A Patroni name; one Patroni adds later reads as UNKNOWN, never as an error."""

    @classmethod
    def of(cls, value: object) -> Self:
        return cls(value) if value in cls._value2member_map_ else cls("unknown")


class Role(_Named):
    """A member's role in `/cluster` (Patroni's names)."""

    LEADER = "leader"
    STANDBY_LEADER = "standby_leader"
    SYNC_STANDBY = "sync_standby"
    QUORUM_STANDBY = "quorum_standby"
    REPLICA = "replica"
    UNKNOWN = "unknown"


class State(_Named):
    """A member's state in `/cluster`: Patroni's PostgreSQL states, and `streaming`."""

    RUNNING = "running"
    STREAMING = "streaming"
    STARTING = "starting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    RESTARTING = "restarting"
    START_FAILED = "start failed"
    RESTART_FAILED = "restart failed"
    STOP_FAILED = "stop failed"
    CRASHED = "crashed"
    CREATING_REPLICA = "creating replica"
    IN_ARCHIVE_RECOVERY = "in archive recovery"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class MemberState:
    """One member as Patroni reports it. `lag_bytes` is None where Patroni says "unknown"."""

    name: str
    role: Role
    state: State
    timeline: int | None = None
    lag_bytes: int | None = None
    pending_restart: bool = False
    port: int | None = None
    nofailover: bool = False  # tagged never to be promoted by Patroni

    @classmethod
    def from_api(cls, m: Mapping[str, object]) -> MemberState:
        lag, tl, port, tags = m.get("lag"), m.get("timeline"), m.get("port"), m.get("tags")
        return cls(name=str(m.get("name")), role=Role.of(m.get("role")),
                   state=State.of(m.get("state")),
                   timeline=tl if isinstance(tl, int) else None,
                   lag_bytes=lag if isinstance(lag, int) else None,
                   pending_restart=bool(m.get("pending_restart")),
                   port=port if isinstance(port, int) else None,
                   nofailover=isinstance(tags, Mapping) and bool(tags.get("nofailover")))

    @property
    def leads(self) -> bool:
        """The live leader: a running primary (or a standby leader that runs or streams)."""
        if self.role is Role.LEADER:
            return self.state is State.RUNNING
        return self.role is Role.STANDBY_LEADER and self.state in (State.RUNNING,
                                                                   State.STREAMING)

    @property
    def streaming(self) -> bool:
        return self.state is State.STREAMING

    @property
    def settled(self) -> bool:
        """Where it should be: leading, or a standby streaming."""
        return self.leads or self.streaming


@dataclass(frozen=True)
class ClusterState:
    """The members Patroni reports, in its order."""

    members: tuple[MemberState, ...] = ()

    @classmethod
    def from_api(cls, body: Mapping[str, object]) -> ClusterState:
        raw = body.get("members")
        return cls(tuple(MemberState.from_api(m) for m in raw if isinstance(m, Mapping))
                   if isinstance(raw, list) else ())

    def member(self, name: str) -> MemberState | None:
        return next((m for m in self.members if m.name == name), None)

    @property
    def names(self) -> set[str]:
        return {m.name for m in self.members}

    @property
    def leader(self) -> MemberState | None:
        return next((m for m in self.members if m.leads), None)

    def with_role(self, role: Role) -> list[MemberState]:
        return [m for m in self.members if m.role is role]


def read(ctx: Context) -> ClusterState | None:
    """GET /cluster from the first member that answers; None when none does."""
    for m in ctx.members:
        body = PatroniAPI(m).cluster()
        if body is not None:
            return ClusterState.from_api(body)
    return None


def observe(ctx: Context) -> ClusterState:
    """As `read`, with no member answering read as no members."""
    return read(ctx) or ClusterState()


def leader_name(ctx: Context) -> str | None:
    lead = observe(ctx).leader
    return lead.name if lead else None


def leader(ctx: Context) -> Member:
    name = leader_name(ctx)
    if name is None:
        raise BilldbError("no running primary: is the environment up? (`billdb up`)")
    return ctx.member(name)


def admin_uri(ctx: Context, member: Member | None = None, dbname: str | None = None) -> str:
    member = member or leader(ctx)
    return postgres.uri(ctx.layout, user=SUPERUSER, dbname=dbname or "postgres",
                        ports=[member.port])


def admin_connect(ctx: Context, member: Member | None = None, dbname: str | None = None,
                  autocommit: bool = True):
    member = member or leader(ctx)
    return postgres.connect(admin_uri(ctx, member, dbname), autocommit=autocommit,
                            what=f"member {member.name} (port {member.port})")
