"""§9.1: the weekly dumps' network path to the storage account (which has no public access).

A private endpoint for the account's `blob` service in a subnet of the AKS VNet, and the
zone that names it (`privatelink.blob.core.windows.net`, Microsoft's zone for blob private
endpoints) linked to that VNet, with the endpoint's DNS zone group registering its record.
"""

from __future__ import annotations

from billdb.azure import sdk
from billdb.azure.operation import API, Operation
from billdb.azure.target import Target

BLOB_ZONE = "privatelink.blob.core.windows.net"


def operations(t: Target) -> list[Operation]:
    nm, dm, s, rg = sdk.network(), sdk.dns(), t.az.endpoint_subnet, t.rg
    srg = s.resource_group or rg
    pe_name = f"{t.az.storage_account}-blob"
    pe_id = t.provider(f"Microsoft.Network/privateEndpoints/{pe_name}")
    zone_id = t.provider(f"Microsoft.Network/privateDnsZones/{BLOB_ZONE}")
    link = f"link-{s.vnet}"
    return [
        Operation("dumps.subnet", "subnet", "PUT", t.subnet_id(s), "network", API["network"],
                  nm.Subnet(address_prefix=s.prefix),
                  lambda c, m: c.subnets.begin_create_or_update(srg, s.vnet, s.name,
                                                                m).result(), "§9.1"),
        Operation("dumps.dns_zone", "private_dns_zone", "PUT", zone_id, "dns", API["dns"],
                  dm.PrivateZone(location="global"),
                  lambda c, m: c.private_zones.begin_create_or_update(rg, BLOB_ZONE,
                                                                      m).result(), "§9.1"),
        Operation("dumps.dns_link", "private_dns_link", "PUT",
                  f"{zone_id}/virtualNetworkLinks/{link}", "dns", API["dns"],
                  dm.VirtualNetworkLink(location="global", registration_enabled=False,
                                        virtual_network=dm.SubResource(id=t.vnet_id(s))),
                  lambda c, m: c.virtual_network_links.begin_create_or_update(
                      rg, BLOB_ZONE, link, m).result(), "§9.1"),
        Operation("dumps.private_endpoint", "private_endpoint", "PUT", pe_id, "network",
                  API["network"], nm.PrivateEndpoint(
                      location=t.plan.server.region, subnet=nm.Subnet(id=t.subnet_id(s)),
                      private_link_service_connections=[nm.PrivateLinkServiceConnection(
                          name="blob", private_link_service_id=t.account_id,
                          group_ids=["blob"])]),
                  lambda c, m: c.private_endpoints.begin_create_or_update(rg, pe_name,
                                                                          m).result(),
                  "§9.1", note="the dumps reach the account without public access"),
        Operation("dumps.private_endpoint_dns", "private_endpoint_dns", "PUT",
                  f"{pe_id}/privateDnsZoneGroups/default", "network", API["network"],
                  nm.PrivateDnsZoneGroup(private_dns_zone_configs=[nm.PrivateDnsZoneConfig(
                      name="blob", private_dns_zone_id=zone_id)]),
                  lambda c, m: c.private_dns_zone_groups.begin_create_or_update(
                      rg, pe_name, "default", m).result(), "§9.1"),
    ]
