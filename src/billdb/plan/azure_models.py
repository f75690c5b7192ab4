"""The plan's Azure target and its price table (`billdb azure …`, `billdb cost`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from billdb.plan.types import Cidr, Identifier, Strict, Uuid


class CostItem(Strict):
    component: str
    spec: str
    monthly: float = Field(ge=0)
    saving: str


class RegionPrices(Strict):
    """List prices of one region, per unit (billdb cost, src/billdb/cost.py)."""

    vcore_hour: dict[str, float]             # per vCore-hour, by compute series (Dsv3, ...)
    storage_gb_month: float                  # provisioned storage (Premium SSD)
    backup_gb_month: float                   # backup storage beyond the free amount
    blob_gb_month: float                     # Blob (Hot, LRS) for the logical dumps


class PriceTable(Strict):
    """The prices `billdb cost` computes with: no price is fetched at run time, so the table
    records where its figures come from."""

    currency: Literal["USD"]
    as_of: str = Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    source: str
    hours_per_month: int = Field(ge=672, le=744)
    regions: dict[str, RegionPrices]
    reserved_1y_discount_pct: float = Field(ge=0, lt=100)  # compute only
    inter_region_transfer_gb: float = Field(ge=0)           # per GB, billed on each side
    # What the estimate assumes for usage the plan does not give.
    assumptions: dict[str, float]


class Cost(Strict):
    currency: Literal["USD"]
    items: list[CostItem]
    total_monthly: float = Field(ge=0)
    total_reserved_monthly: float = Field(ge=0)
    prices: PriceTable | None = None


class AzureSubnet(Strict):
    """A subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers (VNet integration)."""

    vnet: str
    name: str
    prefix: Cidr
    resource_group: str | None = None        # default: the environment's resource group


DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


class MaintenanceWindow(Strict):
    """When Azure may patch the server, in the plan's own time zone; Azure's API takes UTC
    (dayOfWeek 0 = Sunday): `utc()` converts, so a KST time is never written as UTC by hand."""

    day: Literal["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    time_zone: str = "Asia/Seoul"

    def utc(self) -> tuple[int, int, int]:
        """(dayOfWeek, startHour, startMinute) in UTC, as Azure's maintenanceWindow takes."""
        import datetime as dt
        from zoneinfo import ZoneInfo

        hour, minute = map(int, self.start.split(":"))
        # a week whose Sunday is 2026-12-06: weekday() Monday=0 .. Sunday=6
        local = dt.datetime(2026, 12, 6 + DAYS.index(self.day), hour, minute,
                            tzinfo=ZoneInfo(self.time_zone))
        u = local.astimezone(dt.UTC)
        return (u.weekday() + 1) % 7, u.hour, u.minute


class AzureTarget(Strict):
    """What the Azure target needs that the seed does not name (docs/azure.md)."""

    subscription_id: Uuid
    tenant_id: Uuid
    admin_login: Identifier                  # the password administrator (not "postgres")
    entra_admin_object_id: Uuid
    entra_admin_type: Literal["User", "Group", "ServicePrincipal"]
    # VNet integration uses a zone ending in .postgres.database.azure.com (not privatelink.*)
    private_dns_zone: str = Field(pattern=r"^[a-z0-9.-]+\.postgres\.database\.azure\.com$")
    db_subnet: AzureSubnet
    replica_subnet: AzureSubnet
    storage_account: str = Field(pattern=r"^[a-z0-9]{3,24}$")
    # the dumps' network path: a private endpoint for the account's blob service lives here
    endpoint_subnet: AzureSubnet
    dump_container: str = Field(pattern=r"^[a-z0-9-]{3,63}$")
    action_group: str
    alert_email: str
    maintenance_window: MaintenanceWindow    # local time; converted to UTC for Azure
    # The RPO alert is on bytes of WAL not yet replayed by the replica (measured on the
    # primary): rpo_min x 60 s x the peak WAL rate the primary writes (billdb bench, pg_stat_wal)
    peak_wal_mb_per_s: float = Field(gt=0)
    # server logs (pgaudit, slow queries, connections) shipped to a Log Analytics workspace
    log_workspace: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$")
    log_retention_days: int = Field(ge=30, le=730)


class AzureEnvironment(Strict):
    platform: Literal["azure"]
    resource_group: str
    client_networks: dict[str, Cidr]
    admin_networks: list[Cidr]
    azure: AzureTarget | None = None
