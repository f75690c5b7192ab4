"""Names and resource ids of the Azure target, derived from the plan (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from billdb.errors import PlanError
from billdb.plan.azure_models import AzureSubnet, AzureTarget
from billdb.plan.models import Plan


@dataclass(frozen=True)
class Target:
    plan: Plan
    az: AzureTarget
    subscription: str
    tenant: str

    @property
    def rg(self) -> str:
        return self.plan.environments.prod.resource_group

    def group_id(self, rg: str | None = None) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{rg or self.rg}"

    def provider(self, path: str, rg: str | None = None) -> str:
        return f"{self.group_id(rg)}/providers/{path}"

    def vnet_id(self, s: AzureSubnet) -> str:
        return self.provider(f"Microsoft.Network/virtualNetworks/{s.vnet}", s.resource_group)

    def subnet_id(self, s: AzureSubnet) -> str:
        return f"{self.vnet_id(s)}/subnets/{s.name}"

    def nsg_id(self, name: str, rg: str | None = None) -> str:
        return self.provider(f"Microsoft.Network/networkSecurityGroups/{name}", rg)

    @property
    def zone_id(self) -> str:
        return self.provider(f"Microsoft.Network/privateDnsZones/{self.az.private_dns_zone}")

    def server_id(self, name: str | None = None) -> str:
        return self.provider("Microsoft.DBforPostgreSQL/flexibleServers/"
                             f"{name or self.plan.server.name}")

    @property
    def replica_id(self) -> str:
        return self.server_id(self.plan.read_replica.name)

    @property
    def account_id(self) -> str:
        return self.provider(f"Microsoft.Storage/storageAccounts/{self.az.storage_account}")

    @property
    def action_group_id(self) -> str:
        return self.provider(f"Microsoft.Insights/actionGroups/{self.az.action_group}")

    def alert_id(self, name: str) -> str:
        return self.provider(f"Microsoft.Insights/metricAlerts/{name}")

    def fqdn(self, name: str | None = None) -> str:
        return f"{name or self.plan.server.name}.postgres.database.azure.com"


def target(plan: Plan) -> Target:
    """The Azure target of the plan's prod environment. AZURE_SUBSCRIPTION_ID and
    AZURE_TENANT_ID (as azure-identity reads them) override the plan's placeholders."""
    az = plan.environments.prod.azure
    if az is None:
        raise PlanError("environments.prod.azure is missing: the Azure target needs the "
                        "subscription, tenant, subnets and DNS zone (see docs/azure.md)")
    return Target(plan, az, os.environ.get("AZURE_SUBSCRIPTION_ID", az.subscription_id),
                  os.environ.get("AZURE_TENANT_ID", az.tenant_id))
