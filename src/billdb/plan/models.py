"""The plan as strict, typed data.

Every table of the seed plan has a model here. Models are strict (unknown keys are an
error) and do no I/O: loading and error reporting live in `billdb.plan.load`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from billdb.plan.azure_models import AzureEnvironment, Cost
from billdb.plan.local_models import LocalEnvironment
from billdb.plan.types import (
    Cidr,
    ClockTime,
    Identifier,
    LocaleName,
    MemSize,
    Pct,
    Strict,
    TimeZoneName,
    Weekday,
)


class Service(Strict):
    name: str
    display_name: str
    availability_target_pct: Pct
    peak_concurrent_users: int = Field(ge=1)
    max_pods: int = Field(ge=1, le=1000)


class Server(Strict):
    name: str
    region: str
    postgres_version: int = Field(ge=10, le=18)
    tier: Literal["Burstable", "GeneralPurpose", "MemoryOptimized"]
    sku: str
    vcpu: int = Field(ge=1)
    memory_gb: int = Field(ge=1)
    storage_gb: int = Field(ge=32, le=32768)
    storage_tier: str
    storage_auto_grow: bool


class HA(Strict):
    mode: Literal["ZoneRedundant", "SameZone", "Disabled"]
    primary_zone: int = Field(ge=1, le=3)
    standby_zone: int = Field(ge=1, le=3)
    automatic_failover: bool
    failover_target_s: int = Field(ge=1)
    sla_pct: Pct
    synchronous_commit: bool


class BackupSchedule(Strict):
    timezone: TimeZoneName
    daily_at: ClockTime
    full_on: Weekday


class LogicalBackup(Strict):
    weekday: Weekday
    at: ClockTime
    retention_days: int = Field(ge=1)
    location: str


class Backup(Strict):
    retention_days: int = Field(ge=1, le=35)
    geo_redundant: bool
    geo_region: str
    pitr: bool
    pitr_granularity_min: int = Field(ge=1)
    schedule: BackupSchedule
    logical: LogicalBackup
    encryption: Literal["aes-256"]
    compression: Literal["zst", "lz4", "gz", "none"]
    archive_timeout_s: int = Field(ge=1, le=3600)


class Network(Strict):
    access: Literal["private", "public"]
    vnet: str
    db_subnet: Cidr
    private_endpoint: bool
    private_dns_zone: str
    allowed_clients: list[str] = Field(min_length=1)


class ColumnEncryption(Strict):
    algorithm: Literal["aes-256-gcm"]
    columns: list[Annotated[str, Field(pattern=r"^[a-z_]+\.[a-z_]+$")]]


class Audit(Strict):
    pgaudit_log: list[Literal["read", "write", "function", "role", "ddl", "misc", "all"]]
    log_statement: Literal["none", "ddl", "mod", "all"]
    log_line_prefix: str
    log_lock_waits: bool
    log_temp_files_kb: int = Field(ge=-1)


class Security(Strict):
    tls_min_version: Literal["TLSv1.2", "TLSv1.3"]
    ssl_enforced: bool
    password_encryption: Literal["scram-sha-256"]
    azure_ad_auth: bool
    data_at_rest: Literal["aes-256"]
    column_encryption: ColumnEncryption
    backup_encryption: Literal["aes-256"]
    audit: Audit


class AzureAD(Strict):
    enabled: bool
    admin: str
    service_principal: str


Extension = Literal["uuid-ossp", "pg_stat_statements", "pg_trgm", "pgaudit", "pgcrypto", "amcheck"]


class Database(Strict):
    name: Identifier
    encoding: Literal["UTF8"]
    lc_collate: LocaleName
    lc_ctype: LocaleName
    template: Literal["template0"]
    timezone: TimeZoneName
    extensions: list[Extension]


TablePriv = Literal["select", "insert", "update", "delete"]
SequencePriv = Literal["usage", "select", "update"]
DatabasePriv = Literal["connect", "create", "temporary"]


class RoleGrants(Strict):
    """What one role may do. Absent means nothing: least privilege by default."""

    purpose: str
    tables: list[TablePriv] = Field(default_factory=list)
    sequences: list[SequencePriv] = Field(default_factory=list)
    database: list[DatabasePriv] = Field(default_factory=lambda: ["connect"])
    read_all_data: bool = False
    member_of_owner: bool = False


class Roles(Strict):
    owner: Identifier
    login: dict[Identifier, RoleGrants]
    groups: dict[Identifier, RoleGrants]

    @model_validator(mode="after")
    def _distinct(self) -> Roles:
        named = [self.owner, *self.login, *self.groups]
        clash = {n for n in named if named.count(n) > 1}
        if clash:
            raise ValueError(f"role names must be distinct: {sorted(clash)}")
        return self

    def all(self) -> dict[str, RoleGrants]:
        return {**self.login, **self.groups}


class Parameters(Strict):
    max_connections: int = Field(ge=10, le=5000)
    shared_preload_libraries: list[Literal["pg_stat_statements", "pgaudit", "auto_explain"]]
    shared_buffers: MemSize
    effective_cache_size: MemSize
    work_mem: MemSize
    maintenance_work_mem: MemSize
    checkpoint_completion_target: float = Field(ge=0.1, le=1.0)
    max_wal_size: MemSize
    min_wal_size: MemSize
    log_min_duration_statement_ms: int = Field(ge=-1)
    log_checkpoints: bool
    log_connections: bool
    log_disconnections: bool
    track_activities: bool
    track_counts: bool
    track_io_timing: bool


class Pool(Strict):
    size: int = Field(ge=1, le=500)
    connection_timeout_s: int = Field(ge=1)
    # The longest the server may take to answer one statement (a batch of them), as the
    # client bounds it; with connection_timeout_s it is every client call's deadline.
    statement_timeout_s: int = Field(default=30, ge=1)
    idle_timeout_s: int = Field(ge=1)
    max_lifetime_s: int = Field(ge=30)


class Pooler(Strict):
    enabled: bool
    mode: Literal["transaction", "session", "statement"]
    default_pool_size: int = Field(ge=1)
    reserve_pool_size: int = Field(ge=0)
    max_client_conn: int = Field(ge=1)
    admin_reserved_connections: int = Field(ge=0)
    # Protocol-level prepared statements the pooler tracks per client in transaction mode
    # (PgBouncer 1.21+: Azure's built-in one, and the local stand-in built from Debian 13's
    # source). 0: none, and clients must not prepare (docs/topology.md).
    max_prepared_statements: int = Field(default=200, ge=0)


class Routing(Strict):
    write: Literal["primary"]
    read: Literal["primary", "replica"]
    analytics: Literal["primary", "replica"]


class ReadReplica(Strict):
    name: str
    region: str
    sku: str
    vcpu: int = Field(ge=1)
    memory_gb: int = Field(ge=1)
    storage_gb: int = Field(ge=32)
    purpose: str
    read_user: Identifier
    max_lag_bytes: int = Field(ge=0)
    routing: Routing


class Monitoring(Strict):
    cpu_pct: Pct
    memory_pct: Pct
    disk_pct: Pct
    connections: int = Field(ge=1)
    response_time_ms: int = Field(ge=1)
    failed_connections_per_min: int = Field(ge=1)
    slow_query_ms: int = Field(ge=1)


class DRScenarios(Strict):
    primary_failure: str
    region_failure: str
    data_corruption: str


class DR(Strict):
    rto_min: int = Field(ge=1)
    rpo_min: int = Field(ge=0)
    scenarios: DRScenarios


class PgbenchTest(Strict):
    scale: int = Field(ge=1)
    clients: int = Field(ge=1)
    jobs: int = Field(ge=1)
    duration_s: int = Field(ge=1)


class Tests(Strict):
    pgbench: PgbenchTest
    crud_table: Identifier
    failover_measured: bool
    pitr_integrity_check: bool


class Incident(Strict):
    meaning: str
    escalate_min: int | None = None
    recover_min: int | None = None
    resolve_min: int | None = None
    plan_min: int | None = None


class Checklists(Strict):
    daily: list[str]
    weekly: list[str]
    monthly: list[str]


class ChecklistSchedule(Strict):
    """When the scheduler runs the §14.1 checklists (the database's time zone); issue 12."""

    daily_at: ClockTime = "08:30"
    weekly_on: Weekday = "tuesday"      # a weekday: the failover test switches over twice
    weekly_at: ClockTime = "10:00"
    monthly_day: int = Field(default=1, ge=1, le=28)  # 28: every month has it
    monthly_at: ClockTime = "11:00"


class Operations(Strict):
    checklists: Checklists
    schedule: ChecklistSchedule = ChecklistSchedule()  # issue 12: checklist run times
    incidents: dict[Literal["severity_1", "severity_2", "severity_3"], Incident]


class Environments(Strict):
    prod: AzureEnvironment
    local: LocalEnvironment


class Plan(Strict):
    plan_version: Literal[1]
    service: Service
    server: Server
    ha: HA
    backup: Backup
    network: Network
    security: Security
    azure_ad: AzureAD
    database: Database
    roles: Roles
    parameters: Parameters
    pool: Pool
    pooler: Pooler
    read_replica: ReadReplica
    monitoring: Monitoring
    dr: DR
    tests: Tests
    operations: Operations
    cost: Cost
    environments: Environments

    @model_validator(mode="after")
    def _cross_references(self) -> Plan:
        for name in self.network.allowed_clients:
            for env_name in ("prod", "local"):
                env = getattr(self.environments, env_name)
                if name not in env.client_networks:
                    raise ValueError(
                        f"network.allowed_clients names {name!r}, which "
                        f"environments.{env_name}.client_networks does not define"
                    )
        if self.read_replica.read_user not in self.roles.login:
            raise ValueError("read_replica.read_user must be a login role of roles.login")
        if self.ha.primary_zone == self.ha.standby_zone and self.ha.mode == "ZoneRedundant":
            raise ValueError("ha: ZoneRedundant needs different primary_zone and standby_zone")
        return self
