"""Microsoft's contract for the requests (unit tier) and the double answering as Azure does.

The contract is the pinned SDKs' field metadata, generated from Azure/azure-rest-api-specs
(billdb.azure.contract): every request the plan produces must meet it; a request outside it
fails here.
"""

from __future__ import annotations

import pytest

from conftest import ROOT
from test_azure import SERVER, SUB

PLAN = ROOT / "plans" / "bill-inquiry.yaml"


def _target():
    from billdb.azure.target import target
    from billdb.plan.load import load_plan

    return target(load_plan(PLAN))


pytestmark = pytest.mark.unit


def test_every_request_of_the_plan_meets_microsofts_contract():
    from billdb.azure import contract_report

    found = contract_report.check(_target())
    # 66 plan operations, 4 promote bodies, 1 failover, 64 ARM resources, 1 ARM update
    assert found["requests"] == 136
    assert found["errors"] == [], found["errors"]
    assert found["warnings"] == [], found["warnings"]


def test_a_request_outside_the_contract_fails():
    from billdb.azure import contract, operations, sdk

    pg = sdk.pg()
    create = sdk.body(pg.Server(location="koreacentral", properties=pg.ServerProperties(
        create_mode="Create", maintenance_window=pg.MaintenanceWindow(day_of_week=6))))
    errors = [str(p) for p in contract.check_request(SERVER, "PUT", create)]
    assert errors == ["properties.maintenanceWindow: not settable on create (the spec allows "
                      "read, update)"]
    bad = {"location": "koreacentral", "properties": {
        "state": "Ready", "network": {"delegatedSubnetResourceId": "x",
                                      "publicNetworkAccess": "Disabled"},
        "storage": {"storageSizeGB": "256"}, "colour": "blue", "createMode": "Clone"}}
    found = {(p.path, p.severity) for p in contract.check_request(SERVER, "PUT", bad)}
    assert found == {("properties.state", "error"),  # read-only
                     ("properties.network.publicNetworkAccess", "error"),  # VNet-integrated
                     ("properties.storage.storageSizeGB", "error"),  # a string, not an int
                     ("properties.colour", "error"),  # unknown
                     ("properties.createMode", "warning")}  # outside an open enum
    patch = {"location": "koreasouth", "properties": {"administratorLogin": "x",
                                                      "backup": {"geoRedundantBackup": "Enabled"}}}
    assert {p.path for p in contract.check_request(SERVER, "PATCH", patch)} == {
        "location", "properties.administratorLogin", "properties.backup.geoRedundantBackup"}
    assert [p.path for p in contract.check_request(SERVER.replace("prod-pg", "Bad_Name"),
                                                   "PUT", None)] == ["name"]
    alert = f"{SUB}/providers/Microsoft.Insights/metricAlerts/a"
    assert {p.path for p in contract.check_request(alert, "PUT", {
        "location": "global", "properties": {"isMigrated": True}})} >= {
        "properties.isMigrated", "properties.criteria", "properties.scopes"}
    ops = {op.key: op for op in operations.build(_target())}
    assert "maintenanceWindow" not in ops["server"].body()["properties"]
    assert ops["server.maintenance_window"].method == "PATCH"
    for key in ("server", "replica"):
        assert "publicNetworkAccess" not in ops[key].body()["properties"]["network"]


def test_differences_accept_enriched_list_items_and_find_real_changes():
    from billdb.azure.apply import differences, patch_body

    want = {"properties": {"delegations": [{"name": "postgres", "properties": {
        "serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}}],
        "emailReceivers": [{"name": "dba", "emailAddress": "a@b"}]}}
    got = {"properties": {"provisioningState": "Succeeded", "delegations": [{
        "name": "postgres", "id": "/x/delegations/postgres", "type": "t", "properties": {
            "serviceName": "Microsoft.DBforPostgreSQL/flexibleServers", "actions": ["a"],
            "provisioningState": "Succeeded"}}],
        "emailReceivers": [{"name": "dba", "emailAddress": "a@b", "status": "Enabled"}]}}
    assert differences(want, got) == []
    got["properties"]["emailReceivers"].append({"name": "other", "emailAddress": "c@d"})
    assert [d[0] for d in differences(want, got)] == ["properties.emailReceivers"]
    diffs = [("properties.backup.backupRetentionDays", 35, 7), ("sku.name", "D4", "D2")]
    assert patch_body(diffs) == {"properties": {"backup": {"backupRetentionDays": 35}},
                                 "sku": {"name": "D4"}}


def test_the_replica_in_another_region_is_a_geo_async_replica():
    from billdb.azure.verify import replica_role
    from billdb.plan.load import load_plan

    assert replica_role(load_plan(PLAN)) == "GeoAsyncReplica"


def test_platform_rules_in_the_requests():
    """Sunday 02:00 KST is Saturday 17:00 UTC (dayOfWeek 6); alerts at or above (이상); the
    RPO alert on bytes behind, on the primary; the replica as large as the primary."""
    from billdb.azure import operations

    t = _target()
    ops = {op.key: op for op in operations.build(t)}
    mw = ops["server.maintenance_window"].body()["properties"]["maintenanceWindow"]
    assert (mw["dayOfWeek"], mw["startHour"], mw["startMinute"]) == (6, 17, 0)
    alerts = [op for op in ops.values() if op.kind == "metric_alert"]
    assert {op.body()["properties"]["criteria"]["allOf"][0]["operator"] for op in alerts} == {
        "GreaterThanOrEqual"}
    lag = ops["alert.physical_replication_delay_in_bytes"].body()["properties"]
    assert lag["scopes"] == [t.server_id()]
    assert lag["criteria"]["allOf"][0]["threshold"] == 5 * 60 * 1.0 * 2**20
    assert "alert.physical_replication_delay_in_seconds" not in ops
    assert ops["replica"].body()["sku"]["name"] == ops["server"].body()["sku"]["name"]


def test_a_replica_smaller_than_the_primary_is_a_plan_error(tmp_path):
    from billdb.azure import rules
    from billdb.errors import PlanError
    from billdb.plan.load import load_plan
    from conftest import write_plan

    def edit(doc):
        doc["read_replica"].update(sku="Standard_D2s_v3", vcpu=2, memory_gb=8)  # the seed's

    plan = write_plan(tmp_path / "p.yaml", tmp_path / "s", mutate=edit)
    with pytest.raises(PlanError, match=r"read_replica\.sku: .*at least the primary's"):
        rules.check(load_plan(plan), plan)  # PlanError: exit 2 at the CLI


def test_the_network_rules_peering_both_ways_and_an_nsg_for_aks_only():
    from billdb.azure import operations

    t = _target()
    ops = {op.key: op for op in operations.build(t)}
    there = ops["peering.db"].body()["properties"]["remoteVirtualNetwork"]["id"]
    back = ops["peering.replica"].body()["properties"]["remoteVirtualNetwork"]["id"]
    assert there.endswith("/phonebill-vnet-koreasouth") and back.endswith("/phonebill-vnet")
    for label, peer in (("db", "10.1.2.0/24"), ("replica", "10.0.2.0/24")):
        rules = {r["name"]: r["properties"] for r in
                 ops[f"nsg.{label}"].body()["properties"]["securityRules"]}
        assert rules["allow-clients-postgres"]["sourceAddressPrefixes"] == ["10.0.0.0/23"]
        assert rules["allow-clients-postgres"]["destinationPortRange"] == "5432"
        assert rules["allow-peer-database-subnet"]["sourceAddressPrefixes"] == [peer]
        deny = rules["deny-other-vnet-inbound"]
        assert (deny["access"], deny["sourceAddressPrefix"]) == ("Deny", "VirtualNetwork")
        assert ops[f"subnet.{label}"].body()["properties"]["networkSecurityGroup"][
            "id"] == ops[f"nsg.{label}"].resource_id
    order = list(ops)
    assert order.index("nsg.db") < order.index("subnet.db") < order.index("server")


def test_the_managed_identity_becomes_a_principal_after_the_entra_admin(monkeypatch):
    from billdb.azure import database, identity
    from billdb.plan.load import load_plan

    plan = load_plan(PLAN)
    sqls = [s.as_string(None) for s in identity.statements(plan)]
    assert sqls == [
        "SELECT pgaadauth_create_principal('bill-inquiry-service-identity', false, false) "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
        "'bill-inquiry-service-identity')",
        'GRANT "bill_app_user" TO "bill-inquiry-service-identity"']
    steps = [name for name, _ in database.STEPS]
    assert steps.index("sql.entra_principal") > steps.index("sql.roles")
    monkeypatch.setenv("BILLDB_AZURE_ENDPOINT", "https://127.0.0.1:1")
    assert identity.principal(_target(), database.connect).startswith(
        "skipped: the contract double")


def test_logs_leave_the_servers_for_a_workspace_kept_as_the_plan_says():
    from billdb.azure import contract, operations

    t = _target()
    ops = {op.key: op for op in operations.build(t)}
    ws = ops["logs.workspace"].body()
    assert ws["properties"]["retentionInDays"] == 90
    for label, server in (("server", t.server_id()), ("replica", t.replica_id)):
        op = ops[f"logs.diagnostic.{label}"]
        assert op.resource_id.startswith(server + "/providers/Microsoft.Insights/")
        props = op.body()["properties"]
        assert props["workspaceId"] == ops["logs.workspace"].resource_id
        assert {x["category"] for x in props["logs"]} >= {"PostgreSQLLogs"}
    bad = {"properties": {"logs": [{"category": "PostgreSQLLogs"}], "retentionDays": 90}}
    assert {p.path for p in contract.check_request(ops["logs.diagnostic.server"].resource_id,
                                                   "PUT", bad)} == {
        "properties.logs[0].enabled", "properties.retentionDays"}


def test_the_dumps_reach_the_storage_account_through_a_blob_private_endpoint():
    from billdb.azure import operations

    t = _target()
    ops = {op.key: op for op in operations.build(t)}
    assert ops["storage.account"].body()["properties"]["publicNetworkAccess"] == "Disabled"
    pe = ops["dumps.private_endpoint"].body()["properties"]
    conn = pe["privateLinkServiceConnections"][0]["properties"]
    assert conn == {"privateLinkServiceId": t.account_id, "groupIds": ["blob"]}
    assert pe["subnet"]["id"] == ops["dumps.subnet"].resource_id
    assert ops["dumps.dns_zone"].resource_id.endswith("/privatelink.blob.core.windows.net")
    assert ops["dumps.dns_link"].body()["properties"]["virtualNetwork"]["id"].endswith(
        "/virtualNetworks/phonebill-vnet")  # the AKS VNet, where a dump runner lives
    zone = ops["dumps.private_endpoint_dns"].body()["properties"]["privateDnsZoneConfigs"][0]
    assert zone["properties"]["privateDnsZoneId"] == ops["dumps.dns_zone"].resource_id
    order = list(ops)
    assert order.index("storage.account") < order.index("dumps.private_endpoint")


SEED = ROOT.parent / "shared" / "seed" / "db-plan-bill-inquiry-prod.md"


@pytest.mark.skipif(not SEED.exists(), reason="shared/seed is not beside this clone")
def test_the_seed_breaks_each_platform_rule_and_each_finding_cites_microsoft():
    from billdb.lint import azure_rules, markdown

    found = {f.id: f for f in azure_rules.findings(markdown.parse(SEED))}
    assert set(found) == {
        "azure.replica_compute", "azure.vnet_peering", "azure.nsg_for_aks_only",
        "azure.failover_time", "azure.reserved_compute_only", "azure.rpo_alert",
        "azure.alert_operator", "azure.logs_retained", "azure.dump_network_path",
        "azure.identity_principal"}
    assert all("[Microsoft: learn.microsoft.com/azure/" in f.message for f in found.values())
    assert found["azure.replica_compute"].section == "§7.1"
    assert "755 - 20 % x 675 = $620" in found["azure.reserved_compute_only"].message
    assert "60-120 s" in found["azure.failover_time"].message


def test_the_dump_runner_is_a_cronjob_running_billdbs_dump_with_workload_identity():
    from billdb.azure import dumps

    job = dumps.cronjob(_target())
    spec = job["spec"]
    assert (job["kind"], spec["schedule"], spec["timeZone"]) == ("CronJob", "0 3 * * 0",
                                                                 "Asia/Seoul")
    pod = spec["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["spec"]["containers"][0]["command"] == [
        "billdb", "--env", "prod", "azure", "dump", "--json"]


def test_plan_lint_reports_the_platform_rules_on_the_plan_file(tmp_path):
    from billdb.lint import azure_plan_rules
    from billdb.lint.yaml_rules import Lines
    from billdb.plan.load import load_plan
    from conftest import write_plan

    found = {f.id: f for f in azure_plan_rules.findings(load_plan(PLAN), Lines(PLAN))}
    assert set(found) == {"azure.failover_time", "azure.reserved_compute_only"}
    assert "620" in found["azure.reserved_compute_only"].fix
    assert all("[Microsoft: learn.microsoft.com/" in f.message for f in found.values())

    def edit(doc):
        doc["read_replica"].update(sku="Standard_D2s_v3", vcpu=2, memory_gb=8)

    small = write_plan(tmp_path / "p.yaml", tmp_path / "s", mutate=edit)
    ids = {f.id: f.severity for f in azure_plan_rules.findings(load_plan(small), Lines(small))}
    assert ids["azure.replica_compute"] == "error"
