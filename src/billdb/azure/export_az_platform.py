"""The platform resources of the plan as `az` commands, for `azure export --format az`: the
NSGs and peerings before the server, the maintenance window (an update) after it, the logs
and the dumps' private endpoint at the end. Built from the same operation bodies as `azure
plan`, so the script and the API requests say the same thing."""

from __future__ import annotations

import json
import shlex
from typing import Any

from billdb.azure import network
from billdb.azure.operation import Operation
from billdb.azure.target import Target

_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def _q(v: Any) -> str:
    return shlex.quote(str(v))


def _name(op: Operation) -> str:
    return op.resource_id.rsplit("/", 1)[1]


def _nsg(op: Operation) -> list[str]:
    body = op.body() or {}
    name = _name(op)
    out = [f"az network nsg create -g \"$RG\" -n {_q(name)} -l {_q(body['location'])}"]
    for r in body["properties"]["securityRules"]:
        p = r["properties"]
        src = p.get("sourceAddressPrefixes") or [p.get("sourceAddressPrefix")]
        dst = p.get("destinationAddressPrefix", "*")
        out.append(f"az network nsg rule create -g \"$RG\" --nsg-name {_q(name)} -n "
                   f"{_q(r['name'])} --priority {p['priority']} --direction Inbound --access "
                   f"{p['access']} --protocol {_q(p['protocol'])} --source-address-prefixes "
                   f"{' '.join(map(_q, src))} --source-port-ranges '*' "
                   f"--destination-address-prefixes {_q(dst)} --destination-port-ranges "
                   f"{_q(p['destinationPortRange'])}")
    return out


def before_server(t: Target, ops: list[Operation]) -> list[str]:
    out: list[str] = []
    for op in ops:
        if op.kind == "network_security_group":
            out += _nsg(op)
    for _label, s, _peer, _region in network._pairs(t):
        out.append(f"az network vnet subnet update -g \"$RG\" --vnet-name {_q(s.vnet)} -n "
                   f"{_q(s.name)} --network-security-group {_q(network.nsg_name(s))} "
                   "--delegations Microsoft.DBforPostgreSQL/flexibleServers")
    for op in ops:
        if op.kind == "vnet_peering":
            vnet = op.resource_id.split("/virtualNetworks/")[1].split("/")[0]
            remote = (op.body() or {})["properties"]["remoteVirtualNetwork"]["id"]
            out.append(f"az network vnet peering create -g \"$RG\" -n {_q(_name(op))} "
                       f"--vnet-name {_q(vnet)} --remote-vnet {_q(remote)} --allow-vnet-access")
    return out


def after_server(t: Target) -> list[str]:
    day, hour, minute = t.az.maintenance_window.utc()
    return [f"# maintenance window {t.az.maintenance_window.day} {t.az.maintenance_window.start}"
            f" {t.az.maintenance_window.time_zone} = {_DAYS[day]} {hour:02d}:{minute:02d} UTC "
            "(update-only)",
            "az postgres flexible-server update --resource-group \"$RG\" --name \"$SERVER\" "
            f"--maintenance-window {_DAYS[day]}:{hour}:{minute:02d}"]


def at_the_end(t: Target, ops: list[Operation]) -> list[str]:
    by = {op.key: op for op in ops}
    ws = by["logs.workspace"]
    out = [f"az monitor log-analytics workspace create -g \"$RG\" -n {_q(_name(ws))} -l "
           f"{_q(t.plan.server.region)} --retention-time {t.az.log_retention_days}"]
    for key in ("logs.diagnostic.server", "logs.diagnostic.replica"):
        op, props = by[key], (by[key].body() or {})["properties"]
        target = op.resource_id.rsplit("/providers/", 1)[0]
        out.append(f"az monitor diagnostic-settings create -n {_q(_name(op))} --resource "
                   f"{_q(target)} --workspace {_q(ws.resource_id)} --export-to-resource-specific"
                   f" true --logs {_q(json.dumps(props['logs']))} --metrics "
                   f"{_q(json.dumps(props['metrics']))}")
    pe, zone, link = by["dumps.private_endpoint"], by["dumps.dns_zone"], by["dumps.dns_link"]
    s = t.az.endpoint_subnet
    out += [
        f"az network vnet subnet create -g \"$RG\" --vnet-name {_q(s.vnet)} -n {_q(s.name)} "
        f"--address-prefixes {_q(s.prefix)}",
        f"az network private-dns zone create -g \"$RG\" -n {_q(_name(zone))}",
        f"az network private-dns link vnet create -g \"$RG\" -z {_q(_name(zone))} -n "
        f"{_q(_name(link))} -v {_q(t.vnet_id(s))} -e false",
        f"az network private-endpoint create -g \"$RG\" -n {_q(_name(pe))} -l "
        f"{_q(t.plan.server.region)} --vnet-name {_q(s.vnet)} --subnet {_q(s.name)} "
        f"--private-connection-resource-id {_q(t.account_id)} --group-id blob "
        "--connection-name blob",
        f"az network private-endpoint dns-zone-group create -g \"$RG\" --endpoint-name "
        f"{_q(_name(pe))} -n default --private-dns-zone {_q(zone.resource_id)} --zone-name blob",
    ]
    return out
