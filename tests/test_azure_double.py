"""The contract double answers as Azure does (Microsoft's spec and example responses) and
refuses what the spec refuses; a drift is repaired with a PATCH of what differs.
The double is NOT Azure: it is billdb's stand-in for Resource Manager on loopback."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import PORT_BASE
from test_azure import SERVER, VNETS, Double, run


def _call(d: Double, method: str, rid: str, body: dict | None = None) -> tuple[int, dict]:
    ctx = ssl.create_default_context(cafile=str(d.dir / "ca.crt"))
    req = urllib.request.Request(
        f"https://127.0.0.1:{d.port}{rid}?api-version=2026-10-01", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture
def double(tmp_path: Path):
    d = Double(tmp_path, PORT_BASE + 54, VNETS)
    yield d
    d.stop()


def test_the_double_answers_as_azure_and_refuses_what_azure_refuses(double: Double):
    srv = {"location": "koreacentral", "sku": {"name": "Standard_D4s_v3",
                                                "tier": "GeneralPurpose"},
           "properties": {"createMode": "Create", "administratorLogin": "a",
                          "maintenanceWindow": {"customWindow": "Enabled", "dayOfWeek": 6}}}
    status, err = _call(double, "PUT", SERVER, srv)
    assert status == 400 and "maintenanceWindow" in err["error"]["message"]
    del srv["properties"]["maintenanceWindow"]
    srv["properties"]["network"] = {"delegatedSubnetResourceId": f"{VNETS[0]}/subnets/s",
                                    "publicNetworkAccess": "Disabled"}
    assert _call(double, "PUT", SERVER, srv)[0] == 400
    del srv["properties"]["network"]["publicNetworkAccess"]
    assert _call(double, "PUT", SERVER, srv)[0] == 202
    _, got = _call(double, "GET", SERVER)
    p = got["properties"]
    assert (p["state"], p["replicationRole"], p["network"]["publicNetworkAccess"]) == (
        "Ready", "Primary", "Disabled")
    assert p["maintenanceWindow"]["customWindow"] == "Disabled"  # Azure's default
    status, err = _call(double, "PUT", SERVER, srv)  # createMode Create to an existing server
    assert status == 400 and "PATCH" in err["error"]["message"]
    assert _call(double, "PATCH", SERVER, {"properties": {"administratorLogin": "b"}})[0] == 400
    _, cfg = _call(double, "GET", f"{SERVER}/configurations/shared_buffers")
    assert cfg["properties"]["value"] == cfg["properties"]["defaultValue"] != ""
    assert cfg["properties"]["isDynamicConfig"] is False
    assert _call(double, "GET", f"{SERVER}/configurations/no_such_thing")[0] == 404
    _call(double, "PUT", f"{SERVER}/configurations/shared_buffers",
          {"properties": {"value": "1024", "source": "user-override"}})
    _, cfg = _call(double, "GET", f"{SERVER}/configurations/shared_buffers")
    assert cfg["properties"]["isConfigPendingRestart"] is True
    subnet = f"{VNETS[0]}/subnets/database-subnet"
    status, got = _call(double, "PUT", subnet, {"properties": {"addressPrefix": "10.0.2.0/24",
        "delegations": [{"name": "pg", "properties": {"serviceName": "x"}}]}})
    assert status == 201
    d = got["properties"]["delegations"][0]
    assert d["id"].endswith("/delegations/pg") and d["properties"]["actions"]
    replica = SERVER + "-replica"
    _call(double, "PUT", replica, {"location": "koreasouth", "properties": {
        "createMode": "Replica", "sourceServerResourceId": SERVER}})
    assert _call(double, "GET", replica)[1]["properties"]["replicationRole"] == \
        "GeoAsyncReplica"


def test_a_drift_is_repaired_by_a_patch_of_what_differs(double: Double):
    assert run("azure", "apply", "--yes", env=double.env).returncode == 0
    # someone lowers the retention in the portal (an updatable field)
    assert _call(double, "PATCH", SERVER,
                 {"properties": {"backup": {"backupRetentionDays": 7}}})[0] == 202
    plan = json.loads(run("azure", "plan", "--json", env=double.env).stdout)
    (op,) = plan["operations"]
    assert (op["key"], op["method"]) == ("server", "PATCH")
    assert op["body"] == {"properties": {"backup": {"backupRetentionDays": 35}}}
    fix = run("azure", "apply", "--yes", "--json", env=double.env)
    assert fix.returncode == 0, fix.stderr  # the double refuses a create body to a server
    assert json.loads(fix.stdout)["changed"] == ["server server"]
    v = run("azure", "verify", "--json", env=double.env)
    assert v.returncode == 0, [c for c in json.loads(v.stdout)["checks"] if not c["ok"]]
    role = next(c for c in json.loads(v.stdout)["checks"] if c["id"] == "replica.role")
    assert role["actual"] == "GeoAsyncReplica" and role["ok"]
