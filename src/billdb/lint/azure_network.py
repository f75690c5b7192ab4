"""The plan's private network on Azure: which DNS zone VNet integration needs (§3.1, §7).

`privatelink.postgres.database.azure.com` is the zone of a Private Endpoint (a server in
public-access mode reached through a private IP). The seed's access is VNet integration
("Private Access (VNet 통합)", a delegated subnet), which needs a private DNS zone ending in
`.postgres.database.azure.com` and not starting with `privatelink.`; the two modes exclude
each other. billdb decides for VNet integration (§12.3 also tries to put the server in the
VNet) and declares the zone in environments.prod.azure.private_dns_zone.
"""

from __future__ import annotations

from collections.abc import Callable

from billdb.lint.findings import Finding
from billdb.plan.models import Plan

PRIVATE_LINK_ZONE = "privatelink.postgres.database.azure.com"


def findings(plan: Plan, line: Callable[..., int | None]) -> list[Finding]:
    net, az = plan.network, plan.environments.prod.azure
    out = []
    if net.private_dns_zone.startswith("privatelink."):
        used = az.private_dns_zone if az else "<server>.private.postgres.database.azure.com"
        out.append(Finding(
            "azure.private_dns_zone", "warning", "§3.1",
            f"network.private_dns_zone {net.private_dns_zone} is the Private Endpoint zone; "
            "with VNet integration (a delegated subnet, the seed's 'Private Access') Azure "
            "refuses it: the zone must end in .postgres.database.azure.com without "
            "privatelink.", f"billdb uses {used} (environments.prod.azure.private_dns_zone), "
            "linked to the VNets of the server and of the replica", line("network",
                                                                         "private_dns_zone"),
            "data"))
    if net.private_endpoint and net.access == "private":
        out.append(Finding(
            "azure.private_endpoint", "warning", "§3.1",
            "network.private_endpoint: true with VNet integration: a VNet-integrated server "
            "cannot also have a Private Endpoint", "billdb applies VNet integration and no "
            "Private Endpoint", line("network", "private_endpoint"), "data"))
    if az is None:
        out.append(Finding(
            "azure.replica_subnet", "error", "§7.1",
            "the read replica in another region needs its own delegated subnet: "
            "environments.prod.azure.replica_subnet is not declared",
            "declare environments.prod.azure with db_subnet and replica_subnet",
            line("read_replica"), "static"))
    return out
