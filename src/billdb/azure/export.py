"""`azure export`: the same resources for teams that deploy another way.

- `arm`: an ARM template whose resources are the plan's operation bodies (the same SDK
  models), in apply order (each depends on the one before), the admin password a
  securestring parameter;
- `az`: a corrected `az` script, checked offline by `check_script` against the Azure CLI's own
  command definitions (billdb/lint/azure_cli.py) and against the plan (what a script for this
  plan must do: geo-redundant backup at create, the retention, a supported version, the
  replica, the parameters, the alerts).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from billdb.azure.operation import Operation
from billdb.azure.parameters import server_parameters
from billdb.azure.rules import MIN_VERSION
from billdb.azure.target import Target
from billdb.lint import azure_cli, shell
from billdb.lint.findings import Finding

_PROPERTY_OPTIONS = ("backup-retention", "geo-redundant-backup", "storage-size", "version",
                     "sku-name", "tier", "high-availability", "zone", "standby-zone")


def _type_and_name(rid: str) -> tuple[str, str]:
    parts = rid.rsplit("/providers/", 1)[1].split("/")
    namespace, rest = parts[0], parts[1:]
    return "/".join([namespace, *rest[0::2]]), "/".join(rest[1::2])


def _scope(rid: str) -> str | None:
    return rid.rsplit("/providers/", 1)[0] if rid.count("/providers/") > 1 else None


def arm_template(ops: list[Operation]) -> dict[str, Any]:
    resources, previous, updates = [], None, []
    for op in ops:
        if op.action:
            continue
        if op.method == "PATCH":  # update-only properties: an ARM resource is a PUT
            updates.append({"method": "PATCH", "resource_id": op.resource_id,
                            "api_version": op.api_version, "body": op.body()})
            continue
        rtype, name = _type_and_name(op.resource_id)
        body = op.body() or {}
        if op.key == "server":
            body["properties"]["administratorLoginPassword"] = (
                "[parameters('administratorLoginPassword')]")
        res = {"type": rtype, "apiVersion": op.api_version, "name": name, **body}
        if rid_scope := _scope(op.resource_id):  # an extension resource (diagnostic setting)
            res["scope"] = rid_scope
        if previous:
            res["dependsOn"] = [previous]
        resources.append(res)
        previous = op.resource_id
    return {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/"
                       "deploymentTemplate.json#", "contentVersion": "1.0.0.0",
            "metadata": {"generator": "billdb azure export --format arm",
                         "after": "static parameters need a restart: az postgres "
                                  "flexible-server restart (ARM has no POST step)",
                         "updates_after_deployment": updates},
            "parameters": {"administratorLoginPassword": {"type": "securestring"}},
            "resources": resources}


def _q(v: Any) -> str:
    return shlex.quote(str(v))


def az_script(t: Target, ops: list[Operation] | None = None) -> str:
    from billdb.azure import export_az_platform as more
    from billdb.azure.operations import build

    ops = ops if ops is not None else build(t)
    p, az, srv, rr = t.plan, t.az, t.plan.server, t.plan.read_replica
    rg = t.rg
    flex = "az postgres flexible-server"
    lines = ["#!/bin/bash", "# billdb azure export --format az: the plan as az commands.",
             "# The admin password comes from the environment, never from this file.",
             "set -euo pipefail", f"RG={_q(rg)}", f"SERVER={_q(srv.name)}",
             ": \"${ADMIN_PASSWORD:?set ADMIN_PASSWORD}\"", "",
             f"az network vnet subnet update -g \"$RG\" --vnet-name {_q(az.db_subnet.vnet)} -n "
             f"{_q(az.db_subnet.name)} --delegations Microsoft.DBforPostgreSQL/flexibleServers",
             f"az network private-dns zone create -g \"$RG\" -n {_q(az.private_dns_zone)}",
             *more.before_server(t, ops), "",
             f"{flex} create --resource-group \"$RG\" --name \"$SERVER\" --location "
             f"{_q(srv.region)} --admin-user {_q(az.admin_login)} --admin-password "
             "\"$ADMIN_PASSWORD\" --sku-name "
             f"{_q(srv.sku)} --tier {_q(srv.tier)} --version {srv.postgres_version} "
             f"--storage-size {srv.storage_gb} --storage-type Premium_LRS --storage-auto-grow "
             f"{'Enabled' if srv.storage_auto_grow else 'Disabled'} --zone {p.ha.primary_zone} "
             f"--zonal-resiliency Enabled --standby-zone {p.ha.standby_zone} "
             f"--backup-retention {p.backup.retention_days} --geo-redundant-backup "
             f"{'Enabled' if p.backup.geo_redundant else 'Disabled'} --vnet "
             f"{_q(az.db_subnet.vnet)} --subnet {_q(az.db_subnet.name)} --private-dns-zone "
             f"{_q(az.private_dns_zone)} --microsoft-entra-auth Enabled --password-auth "
             "Enabled --yes",
             f"{flex} microsoft-entra-admin create --resource-group \"$RG\" --server-name "
             f"\"$SERVER\" --display-name {_q(p.azure_ad.admin)} --object-id "
             f"{_q(az.entra_admin_object_id)} --type {_q(az.entra_admin_type)}",
             *more.after_server(t)]
    for prm in server_parameters(p):
        lines.append(f"{flex} parameter set --resource-group \"$RG\" --server-name \"$SERVER\" "
                     f"--name {_q(prm.name)} --value {_q(prm.value)} --source user-override")
    lines += [f"{flex} restart --resource-group \"$RG\" --name \"$SERVER\"",
              f"{flex} db create --resource-group \"$RG\" --server-name \"$SERVER\" --name "
              f"{_q(p.database.name)} --charset {p.database.encoding} --collation "
              f"{_q(p.database.lc_collate.replace('UTF-8', 'utf8'))}",
              f"{flex} replica create --resource-group \"$RG\" --name {_q(rr.name)} "
              f"--source-server \"$SERVER\" --location {_q(rr.region)} --sku-name "
              f"{_q(rr.sku)} --tier {_q(srv.tier)} --storage-size {rr.storage_gb} --vnet "
              f"{_q(az.replica_subnet.vnet)} --subnet {_q(az.replica_subnet.name)} "
              f"--private-dns-zone {_q(az.private_dns_zone)} --yes"]
    from billdb.azure.operations_more import alert_specs

    for name, metric, agg, threshold, window, scope, _item in alert_specs(t):
        lines.append(f"az monitor metrics alert create -g \"$RG\" -n {_q(name)} --scopes "
                     f"{_q(scope)} --condition {_q(f'{agg.lower()} {metric} >= {threshold:g}')} "
                     f"--window-size {window[2:].lower()} --evaluation-frequency 1m")
    lines += more.at_the_end(t, ops)
    return "\n".join(lines) + "\n"


def _not_a_parameter(cmd: shell.Command) -> list[Finding]:
    name = shell.option_value(cmd.argv, "--name", "-n") or ""
    stem = name.replace("_", "-")
    opt = next((o for o in _PROPERTY_OPTIONS if stem.startswith(o)), None)
    if not opt:
        return []
    return [Finding("doc.az_not_a_parameter", "error", "§12.3",
                    f"`parameter set --name {name}`: {name!r} is not a server parameter",
                    f"it is a property of the server: --{opt} on create or update", cmd.line,
                    "data")]


def check_script(text: str, t: Target) -> list[Finding]:
    """Errors in an az script for this plan: the CLI's definitions, then what is missing."""
    _env, cmds = shell.parse(text, 1)
    az = [c for c in cmds if c.argv and c.argv[0] == "az"]
    out: list[Finding] = []
    for c in az:
        out += azure_cli.check(c, "§12.3", None)
        if c.argv[1:5] == ["postgres", "flexible-server", "parameter", "set"]:
            out += _not_a_parameter(c)
    words = [" ".join(c.argv[1:4]) for c in az]
    create = next((c for c in az if c.argv[1:4] == ["postgres", "flexible-server", "create"]),
                  None)

    def miss(fid: str, msg: str, fix: str, line: int | None = None) -> None:
        out.append(Finding(fid, "error", "§12.3", msg, fix, line, "static"))

    if create is None:
        miss("azure.script_no_create", "no `az postgres flexible-server create`", "add it")
    else:
        geo = shell.option_value(create.argv, "--geo-redundant-backup")
        if t.plan.backup.geo_redundant and (geo or "").lower() != "enabled":
            miss("azure.geo_backup_at_create", "geo-redundant backup is chosen only at create "
                 "and the create command does not enable it",
                 "add --geo-redundant-backup Enabled", create.line)
        ret = shell.option_value(create.argv, "--backup-retention")
        if ret != str(t.plan.backup.retention_days):
            miss("azure.backup_retention", f"retention {ret or 'default 7'} days, the plan "
                 f"keeps {t.plan.backup.retention_days}", f"add --backup-retention "
                 f"{t.plan.backup.retention_days}", create.line)
        ver = shell.option_value(create.argv, "--version") or ""
        if not re.fullmatch(r"\d+", ver) or int(ver) < MIN_VERSION:
            miss("azure.version", f"--version {ver or '(default)'}: PostgreSQL "
                 f"{MIN_VERSION} or later", f"--version {t.plan.server.postgres_version}",
                 create.line)
    if "flexible-server replica" not in " ".join(words):
        miss("azure.script_no_replica", "no read replica is created (§7)",
             "add `az postgres flexible-server replica create`")
    if not any(w.startswith("monitor metrics alert") for w in words):
        miss("azure.script_no_alerts", "no metric alert is created (§8.1)",
             "add `az monitor metrics alert create` for each §8.1 threshold")
    names = {shell.option_value(c.argv, "--name", "-n") for c in az
             if c.argv[1:5] == ["postgres", "flexible-server", "parameter", "set"]}
    lacking = [p.name for p in server_parameters(t.plan) if p.name not in names]
    if lacking:
        miss("azure.script_no_parameters", f"{len(lacking)} plan parameters are never set: "
             f"{', '.join(lacking[:6])}{'…' if len(lacking) > 6 else ''}",
             "add `az postgres flexible-server parameter set` for each")
    return out
