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
    # 54 plan operations, 4 promote bodies, 1 failover, 52 ARM resources, 1 ARM update
    assert found["requests"] == 112
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
