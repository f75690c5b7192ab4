"""The plan's local environment as strict, typed data: the machine billdb rehearses
production on (etcd, the Patroni members, pgBackRest's repositories, the monitoring stack).
The Azure environment is in `azure_models`; the plan itself in `models`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from billdb.plan.types import Cidr, Identifier, Port, Strict


class Etcd(Strict):
    client_port: Port
    peer_port: Port
    # Members, one per site, on 127.0.0.1, .2, .3 with the same two ports: losing one keeps
    # the quorum (engines/etcd.py). Odd: an even count adds no tolerance.
    members: Literal[1, 3, 5] = 3

    def hosts(self) -> list[str]:
        """The loopback address of each member."""
        return [f"127.0.0.{i + 1}" for i in range(self.members)]


class PatroniSettings(Strict):
    scope: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    ttl: int = Field(ge=20, description="Patroni 4 raises anything lower to 20")
    loop_wait: int = Field(ge=1)
    retry_timeout: int = Field(ge=3)

    @model_validator(mode="after")
    def _timing(self) -> PatroniSettings:
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError("Patroni needs loop_wait + 2*retry_timeout <= ttl")
        return self


class Member(Strict):
    name: Identifier
    site: str
    kind: Literal["zone", "replica"]
    port: Port
    rest_port: Port


class LocalBackup(Strict):
    """Where the local environment keeps the plan's backups (§9.1)."""

    # repo2, the geo copy: the Azure Blob emulator (pgBackRest repo-type=azure) or a
    # second directory standing for the other region.
    geo_repo: Literal["azurite", "posix"]
    azurite_port: Port
    restore_ports: list[Port] = Field(min_length=2, max_length=2, description="first and "
                                      "last port for copies restored beside the cluster")

    @model_validator(mode="after")
    def _range(self) -> LocalBackup:
        first, last = self.restore_ports
        if last < first:
            raise ValueError("restore_ports must be [first, last] with first <= last")
        return self


class LocalMonitoring(Strict):
    """The monitoring stack on loopback (docs/monitoring.md): one port each, and one
    postgres_exporter per member (same order as `members`)."""

    prometheus_port: Port
    alertmanager_port: Port
    node_exporter_port: Port
    exporter_port: Port  # billdb's own exporter
    receiver_port: Port  # billdb's webhook receiver (the alert log)
    postgres_exporter_ports: list[Port] = Field(min_length=1)
    # Where Alertmanager sends notifications; None: billdb's receiver on receiver_port.
    receiver_url: str | None = Field(default=None, pattern=r"^https?://")
    scrape_interval_s: int = Field(default=2, ge=1, le=60)
    evaluation_interval_s: int = Field(default=2, ge=1, le=60)

    def ports(self) -> list[int]:
        return [self.prometheus_port, self.alertmanager_port, self.node_exporter_port,
                self.exporter_port, self.receiver_port, *self.postgres_exporter_ports]


class LocalEnvironment(Strict):
    platform: Literal["local"]
    state_dir: str = Field(pattern=r"^/")
    os_user: str
    postgres_bin: str = Field(pattern=r"^/")
    memory_budget_mb: int = Field(ge=128, le=65536)
    # The disk each member may use; the WAL and log bounds keep the plan's ratios to it
    # (render/bounds.py). None: the server's storage_gb.
    disk_budget_gb: int | None = Field(default=None, ge=1, le=32768)
    client_networks: dict[str, Cidr]
    admin_networks: list[Cidr] = Field(min_length=1)
    etcd: Etcd
    pooler_port: Port
    patroni: PatroniSettings
    members: list[Member] = Field(min_length=1)
    backup: LocalBackup
    monitoring: LocalMonitoring | None = None  # None: no monitoring stack

    @model_validator(mode="after")
    def _consistent(self) -> LocalEnvironment:
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ValueError("member names must be unique")
        ports = [self.etcd.client_port, self.etcd.peer_port, self.pooler_port]
        for m in self.members:
            ports += [m.port, m.rest_port]
        first, last = self.backup.restore_ports
        ports += [self.backup.azurite_port]
        if self.monitoring:
            ports += self.monitoring.ports()
            if len(self.monitoring.postgres_exporter_ports) != len(self.members):
                raise ValueError("monitoring.postgres_exporter_ports needs one port per member")
        if any(first <= p <= last for p in ports):
            raise ValueError("backup.restore_ports overlaps another port of the environment")
        if len(set(ports)) != len(ports):
            raise ValueError("every port of the environment must be different")
        if not any(m.kind == "zone" for m in self.members):
            raise ValueError("at least one member must be of kind 'zone'")
        return self
