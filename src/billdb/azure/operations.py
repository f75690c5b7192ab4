"""The ordered ARM operations that bring Azure to the plan, built from the SDK's models.

Each `Operation` holds the SDK model (the body is what the SDK itself would serialize), the
resource id, method and api-version, and how to send it through the SDK client. Building is
pure: no credential, no network. Secrets are passed in, and masked in `as_dict()`.
"""

from __future__ import annotations

from typing import Any

from billdb.azure import logs, network, sdk
from billdb.azure.operation import API, MASK, PG_API, SECRET_FIELDS, Operation, mask
from billdb.azure.operations_more import dumps_and_alerts
from billdb.azure.parameters import server_parameters
from billdb.azure.target import Target
from billdb.engines import guc


def _server_model(t: Target, password: str) -> Any:
    pg, plan = sdk.pg(), t.plan
    srv, ha, bk = plan.server, plan.ha, plan.backup
    return pg.Server(
        location=srv.region, sku=pg.Sku(name=srv.sku, tier=srv.tier),
        properties=pg.ServerProperties(
            create_mode="Create", version=str(srv.postgres_version),
            administrator_login=t.az.admin_login, administrator_login_password=password,
            availability_zone=str(ha.primary_zone),
            storage=pg.Storage(storage_size_gb=srv.storage_gb, type="Premium_LRS",
                               auto_grow="Enabled" if srv.storage_auto_grow else "Disabled"),
            auth_config=pg.AuthConfig(active_directory_auth="Enabled" if plan.azure_ad.enabled
                                      else "Disabled", password_auth="Enabled",
                                      tenant_id=t.tenant),
            backup=pg.Backup(backup_retention_days=bk.retention_days,
                             geo_redundant_backup="Enabled" if bk.geo_redundant
                             else "Disabled"),
            # VNet-integrated: no publicNetworkAccess (the spec supports it only for servers
            # that are not VNet-integrated; Azure reports Disabled for these)
            network=pg.Network(delegated_subnet_resource_id=t.subnet_id(t.az.db_subnet),
                               private_dns_zone_arm_resource_id=t.zone_id),
            high_availability=pg.HighAvailability(
                mode=ha.mode, standby_availability_zone=str(ha.standby_zone)
                if ha.mode == "ZoneRedundant" else None)))


# Beyond what the PATCH schema cannot set (billdb.azure.contract): Microsoft documents these
# as chosen at create only.
CREATE_ONLY = ("location", "properties.sourceServerResourceId")


def _patch(t: Target, name: str) -> Any:
    """An existing server is changed with a PATCH of the fields that differ (never a PUT of
    the create body: createMode Create/Replica to an existing server)."""
    return lambda c, body: c.servers.begin_update(t.rg, name, sdk.pg().ServerForPatch(
        body)).result()


def _maintenance(t: Target) -> Operation:
    """maintenanceWindow is read/update only in the spec: a PATCH after the create."""
    pg, name, mw = sdk.pg(), t.plan.server.name, t.az.maintenance_window
    day, hour, minute = mw.utc()
    model = pg.ServerForPatch(properties=pg.ServerPropertiesForPatch(
        maintenance_window=pg.MaintenanceWindowForPatch(
            custom_window="Enabled", day_of_week=day, start_hour=hour, start_minute=minute)))
    return Operation("server.maintenance_window", "maintenance_window", "PATCH",
                     t.server_id(), "pg", PG_API, model,
                     lambda c, m: c.servers.begin_update(t.rg, name, m).result(), "§9.1",
                     note=f"{mw.day} {mw.start} {mw.time_zone} = dayOfWeek {day} "
                          f"{hour:02d}:{minute:02d} UTC; Azure accepts the window only on "
                          "update: a PATCH after the create")


def _server(t: Target, password: str) -> list[Operation]:
    pg, plan, name = sdk.pg(), t.plan, t.plan.server.name
    ops = [Operation("server", "server", "PUT", t.server_id(), "pg", PG_API,
                     _server_model(t, password),
                     lambda c, m: c.servers.begin_create_or_update(t.rg, name, m).result(),
                     "§2.1 §2.2 §2.3 §3.1 §3.3", create_only=CREATE_ONLY,
                     secrets={"administratorLoginPassword": password}, patch=_patch(t, name)),
           _maintenance(t)]
    if plan.azure_ad.enabled:
        oid = t.az.entra_admin_object_id
        ops.append(Operation(
            "entra_admin", "entra_admin", "PUT", f"{t.server_id()}/administrators/{oid}", "pg",
            PG_API, pg.AdministratorMicrosoftEntraAdd(
                properties=pg.AdministratorMicrosoftEntraPropertiesForAdd(
                    principal_type=t.az.entra_admin_type, principal_name=plan.azure_ad.admin,
                    tenant_id=t.tenant)),
            lambda c, m: c.administrators_microsoft_entra.begin_create_or_update(
                t.rg, name, oid, m).result(), "§3.3"))
    static = []
    for p in server_parameters(plan):
        restart = guc.needs_restart(plan.server.postgres_version, p.name)
        ops.append(Operation(
            f"parameter.{p.name}", "parameter", "PUT",
            f"{t.server_id()}/configurations/{p.name}", "pg", PG_API,
            pg.ConfigurationForUpdate(properties=pg.ConfigurationProperties(
                value=p.value, source="user-override")),
            lambda c, m, n=p.name: c.configurations.begin_put(t.rg, name, n, m).result(),
            p.section, note=f"from {p.item}" + ("; needs a restart" if restart else "")))
        if restart:
            static.append(p.name)
    ops.append(Operation(
        "restart", "restart", "POST", f"{t.server_id()}/restart", "pg", PG_API,
        pg.RestartParameter(restart_with_failover=False),
        lambda c, m: c.servers.begin_restart(t.rg, name, m).result(), "§5.1", action=True,
        note=(f"only when one of {', '.join(static)} changed or a restart is pending"
              if static else "only when a parameter Azure reports as not dynamic changed "
              "or a restart is pending")))
    db = plan.database
    ops.append(Operation(
        "database", "database", "PUT", f"{t.server_id()}/databases/{db.name}", "pg", PG_API,
        pg.Database(properties=pg.DatabaseProperties(
            charset=db.encoding, collation=azure_collation(db.lc_collate))),
        lambda c, m: c.databases.begin_create(t.rg, name, db.name, m).result(), "§4.1"))
    return ops


def azure_collation(lc: str) -> str:
    """Azure names glibc locales as `locale -a` does: en_US.UTF-8 -> en_US.utf8."""
    base, _, enc = lc.partition(".")
    return f"{base}.{enc.lower().replace('-', '')}" if enc else base


def _replica(t: Target) -> Operation:
    pg, rr = sdk.pg(), t.plan.read_replica
    model = pg.Server(
        location=rr.region, sku=pg.Sku(name=rr.sku, tier=t.plan.server.tier),
        properties=pg.ServerProperties(
            create_mode="Replica", source_server_resource_id=t.server_id(),
            storage=pg.Storage(storage_size_gb=rr.storage_gb, type="Premium_LRS",
                               auto_grow="Enabled" if t.plan.server.storage_auto_grow
                               else "Disabled"),
            network=pg.Network(delegated_subnet_resource_id=t.subnet_id(t.az.replica_subnet),
                               private_dns_zone_arm_resource_id=t.zone_id)))
    return Operation("replica", "replica", "PUT", t.replica_id, "pg", PG_API, model,
                     lambda c, m: c.servers.begin_create_or_update(t.rg, rr.name, m).result(),
                     "§7.1", create_only=CREATE_ONLY, patch=_patch(t, rr.name),
                     note="inherits the primary's parameters; HA and geo-backup are not "
                          "available on a replica")


def build(t: Target, password: str = MASK) -> list[Operation]:
    """Every operation of the plan, in the order Azure needs them."""
    return [*network.operations(t), *_server(t, password), _replica(t),
            *logs.operations(t), *dumps_and_alerts(t)]


def counts(ops: list[Operation]) -> dict[str, int]:
    out: dict[str, int] = {}
    for op in ops:
        out[f"{op.method} {op.kind}"] = out.get(f"{op.method} {op.kind}", 0) + 1
    return out


__all__ = ["API", "MASK", "PG_API", "SECRET_FIELDS", "Operation", "build", "counts", "mask"]
