"""The private network of the plan on Azure (§3.1, §3.2, §7): subnets, their network
security groups, the VNet peering between the two regions, the private DNS zone.

- A VNet-integrated server has no firewall rules: the seed's "only the AKS subnet may connect"
  (§3.2) is a network security group on each database subnet (Microsoft's
  concepts-networking-private): 5432 from the allowed client subnets and from the other
  region's database subnet (replication, and the §7.2 read route), anything inside the
  subnet itself (the HA standby), and every other source in the virtual networks denied.
- Replication between two VNet-integrated servers in separate VNets needs the VNets peered,
  both ways (concepts-read-replicas, concepts-networking-private).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billdb.azure import sdk
from billdb.azure.operation import API, Operation
from billdb.azure.target import Target
from billdb.plan.azure_models import AzureSubnet

PG_PORT = "5432"


def _pairs(t: Target) -> list[tuple[str, AzureSubnet, AzureSubnet, str]]:
    """(label, subnet, the other region's subnet, region) for both database subnets."""
    az, p = t.az, t.plan
    return [("db", az.db_subnet, az.replica_subnet, p.server.region),
            ("replica", az.replica_subnet, az.db_subnet, p.read_replica.region)]


def nsg_name(s: AzureSubnet) -> str:
    return f"{s.vnet}-{s.name}-nsg"


def _rules(t: Target, s: AzureSubnet, peer: AzureSubnet) -> list[Any]:
    nm = sdk.network()
    clients = [t.plan.environments.prod.client_networks[c]
               for c in t.plan.network.allowed_clients]

    def rule(name: str, prio: int, src: list[str], port: str, access: str = "Allow") -> Any:
        return nm.SecurityRule(
            name=name, priority=prio, direction="Inbound", access=access, protocol="Tcp"
            if port != "*" else "*", source_address_prefixes=src, source_port_range="*",
            destination_address_prefix=s.prefix if access == "Allow" else "*",
            destination_port_range=port)

    return [rule("allow-clients-postgres", 100, clients, PG_PORT),
            rule("allow-peer-database-subnet", 110, [peer.prefix], PG_PORT),
            rule("allow-own-subnet", 120, [s.prefix], "*"),
            nm.SecurityRule(name="deny-other-vnet-inbound", priority=4000,
                            direction="Inbound", access="Deny", protocol="*",
                            source_address_prefix="VirtualNetwork", source_port_range="*",
                            destination_address_prefix="*", destination_port_range="*")]


def _nsgs(t: Target) -> list[Operation]:
    nm, ops = sdk.network(), []
    for label, s, peer, region in _pairs(t):
        name, rg = nsg_name(s), s.resource_group or t.rg
        ops.append(Operation(
            f"nsg.{label}", "network_security_group", "PUT", t.nsg_id(name, rg), "network",
            API["network"], nm.NetworkSecurityGroup(location=region,
                                                    security_rules=_rules(t, s, peer)),
            lambda c, m, rg=rg, name=name: c.network_security_groups.begin_create_or_update(
                rg, name, m).result(), "§3.2",
            note="a VNet-integrated server has no firewall rules: 'only the AKS subnet' "
                 "is this NSG"))
    return ops


def _subnets(t: Target) -> list[Operation]:
    nm, ops = sdk.network(), []
    for label, s, _peer, _region in _pairs(t):
        model = nm.Subnet(
            address_prefix=s.prefix,
            network_security_group=nm.NetworkSecurityGroup(
                id=t.nsg_id(nsg_name(s), s.resource_group or t.rg)),
            delegations=[nm.Delegation(
                name="postgres", service_name="Microsoft.DBforPostgreSQL/flexibleServers")])
        ops.append(Operation(
            f"subnet.{label}", "subnet", "PUT", t.subnet_id(s), "network", API["network"],
            model, _subnet_send(t, s), "§3.1" if label == "db" else "§7.1",
            note="the VNet itself is a prerequisite (seed §12.2)"))
    return ops


def _peerings(t: Target) -> list[Operation]:
    nm, ops = sdk.network(), []
    for label, s, peer, _region in _pairs(t):
        name, rg = f"{s.vnet}-to-{peer.vnet}", s.resource_group or t.rg
        model = nm.VirtualNetworkPeering(
            remote_virtual_network=nm.SubResource(id=t.vnet_id(peer)),
            allow_virtual_network_access=True, allow_forwarded_traffic=False,
            allow_gateway_transit=False, use_remote_gateways=False)
        ops.append(Operation(
            f"peering.{label}", "vnet_peering", "PUT", f"{t.vnet_id(s)}/virtualNetworkPeerings/"
            f"{name}", "network", API["network"], model,
            lambda c, m, rg=rg, v=s.vnet, n=name: c.virtual_network_peerings
            .begin_create_or_update(rg, v, n, m).result(), "§7.1",
            note="replication between VNet-integrated servers in two VNets needs both "
                 "directions peered"))
    return ops


def _subnet_send(t: Target, s: AzureSubnet) -> Callable[[Any, Any], Any]:
    return lambda c, m: c.subnets.begin_create_or_update(
        s.resource_group or t.rg, s.vnet, s.name, m).result()


def _dns(t: Target) -> list[Operation]:
    dm, zone = sdk.dns(), t.az.private_dns_zone
    ops = [Operation("dns.zone", "private_dns_zone", "PUT", t.zone_id, "dns", API["dns"],
                     dm.PrivateZone(location="global"),
                     lambda c, m: c.private_zones.begin_create_or_update(
                         t.rg, zone, m).result(), "§3.1")]
    for label, s, _peer, _region in _pairs(t):
        name = f"link-{s.vnet}"
        ops.append(Operation(
            f"dns.link.{label}", "private_dns_link", "PUT",
            f"{t.zone_id}/virtualNetworkLinks/{name}", "dns", API["dns"],
            dm.VirtualNetworkLink(location="global", registration_enabled=False,
                                  virtual_network=dm.SubResource(id=t.vnet_id(s))),
            lambda c, m, name=name: c.virtual_network_links.begin_create_or_update(
                t.rg, zone, name, m).result(), "§3.1"))
    return ops


def operations(t: Target) -> list[Operation]:
    """In the order Azure needs them: NSGs before the subnets that name them."""
    return [*_nsgs(t), *_subnets(t), *_peerings(t), *_dns(t)]
