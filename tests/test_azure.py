"""The Azure target without Azure: the dry run (bodies built by the SDK, checked against the
plan), billdb's own rules, and apply/verify/DR against the ARM contract double over TLS.

The double (billdb.azure.double) is NOT Azure: it answers as the 2026-10-01 API documents
(202 + Azure-AsyncOperation for flexible server writes, 200 for metric alerts, ARM error
bodies) and keeps resource state. It is the seam where billdb makes HTTP calls.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import BILLDB, PORT_BASE, ROOT, write_plan

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/phonebill-rg"
VNETS = [f"{SUB}/providers/Microsoft.Network/virtualNetworks/phonebill-vnet",
         f"{SUB}/providers/Microsoft.Network/virtualNetworks/phonebill-vnet-koreasouth"]
SERVER = f"{SUB}/providers/Microsoft.DBforPostgreSQL/flexibleServers/phonebill-bill-inquiry-prod-pg"
_CLEAN = {k: v for k, v in os.environ.items() if not k.startswith(("BILLDB_AZURE", "AZURE_"))}


def run(*args: str, env: dict | None = None, plan: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [BILLDB, *(["--plan", str(plan)] if plan else []), "--env", "prod", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**_CLEAN, **(env or {})})


class Double:
    """The contract double as its own process, with the env that points billdb at it."""

    def __init__(self, tmp: Path, port: int, vnets: list[str]) -> None:
        self.dir, self.port = tmp / f"double-{port}", port
        argv = [sys.executable, "-m", "billdb.azure.double", "--port", str(port),
                "--dir", str(self.dir)]
        for v in vnets:
            argv += ["--vnet", v]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout.readline().strip() == "ready"
        self.env = {"BILLDB_AZURE_ENDPOINT": f"https://127.0.0.1:{port}",
                    "BILLDB_AZURE_CA": str(self.dir / "ca.crt"),
                    "BILLDB_AZURE_STATE": str(tmp / f"state-{port}"),
                    "BILLDB_AZURE_SQL": "off"}  # no PostgreSQL behind the FQDN here

    def put(self, rid: str, body: dict, api: str = "2026-10-01") -> int:
        ctx = ssl.create_default_context(cafile=str(self.dir / "ca.crt"))
        req = urllib.request.Request(
            f"https://127.0.0.1:{self.port}{rid}?api-version={api}", method="PUT",
            data=json.dumps(body).encode(), headers={"Authorization": "Bearer portal",
                                                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx) as resp:
            return resp.status

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def double(tmp_path: Path):
    d = Double(tmp_path, PORT_BASE + 51, VNETS)
    yield d
    d.stop()


def _ops(doc: dict) -> dict[str, dict]:
    return {op["key"]: op for op in doc["operations"]}


@pytest.mark.unit
def test_plan_offline_bodies_match_the_plan():
    t0 = time.monotonic()
    res = run("azure", "plan", "--json")
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert elapsed < 20, elapsed  # no network call: a connect attempt would wait far longer
    doc = json.loads(res.stdout)
    assert doc["read"] is False and "nothing was read" in doc["note"]
    ops = _ops(doc)
    assert doc["total"] == len(ops) == 66
    srv = ops["server"]
    assert (srv["method"], srv["api_version"], srv["resource_id"]) == ("PUT", "2026-10-01",
                                                                       SERVER)
    b = srv["body"]
    assert b["sku"] == {"name": "Standard_D4s_v3", "tier": "GeneralPurpose"}
    p = b["properties"]
    assert p["version"] == "15" and p["availabilityZone"] == "1"
    assert p["administratorLoginPassword"] == "***"
    assert p["storage"] == {"storageSizeGB": 256, "autoGrow": "Enabled", "type": "Premium_LRS"}
    assert p["backup"] == {"backupRetentionDays": 35, "geoRedundantBackup": "Enabled"}
    assert p["highAvailability"] == {"mode": "ZoneRedundant", "standbyAvailabilityZone": "2"}
    assert p["authConfig"]["activeDirectoryAuth"] == "Enabled"
    assert p["network"]["privateDnsZoneArmResourceId"].endswith(
        "/privateDnsZones/phonebill-bill-inquiry-prod-pg.private.postgres.database.azure.com")
    rep = ops["replica"]["body"]
    assert rep["location"] == "koreasouth" and rep["properties"]["createMode"] == "Replica"
    assert rep["properties"]["sourceServerResourceId"] == SERVER
    assert "phonebill-vnet-koreasouth" in rep["properties"]["network"][
        "delegatedSubnetResourceId"]
    values = {k.split(".", 1)[1]: o["body"]["properties"]["value"]
              for k, o in ops.items() if o["kind"] == "parameter"}
    assert values["azure.extensions"] == "pg_stat_statements,pg_trgm,pgaudit,uuid-ossp"
    assert values["shared_buffers"] == "524288" and values["work_mem"] == "16384"
    assert values["require_secure_transport"] == "on"
    assert values["pgbouncer.enabled"] == "true" and values["pgaudit.log"] == "write,ddl"
    assert values["pgbouncer.max_prepared_statements"] == "200"
    fc = ops["alert.connections_failed"]["body"]["properties"]
    assert fc["windowSize"] == "PT1M" and fc["criteria"]["allOf"][0]["timeAggregation"] == \
        "Total" and ops["alert.connections_failed"]["api_version"] == "2018-03-01"
    assert "no response-time metric" in ops["alert.longest_query_time_sec"]["note"]
    assert doc["counts"]["PUT parameter"] == 32 and doc["counts"]["PUT metric_alert"] == 7


@pytest.mark.unit
@pytest.mark.parametrize("key,value,field", [
    (("server", "postgres_version"), 14, "server.postgres_version"),
    (("backup", "retention_days"), 40, "backup.retention_days"),
    (("server", "tier"), "Gold", "server.tier"),
    (("server", "sku"), "Standard_E4s_v3", "server.sku"),
])
def test_plan_rules_exit_2_naming_the_line(tmp_path: Path, key, value, field):
    def edit(doc):
        doc[key[0]][key[1]] = value

    plan = write_plan(tmp_path / "p.yaml", tmp_path / "s", mutate=edit)
    lines = plan.read_text().splitlines()
    line = next(n for n, t in enumerate(lines, 1) if t.strip().startswith(f"{key[1]}:")
                and (key[0] != "server" or n < 40))
    res = run("azure", "plan", "--json", plan=plan)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"{plan}:{line}: {field}" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.unit
def test_azure_commands_need_env_prod_and_local_commands_refuse_it():
    res = subprocess.run([BILLDB, "azure", "plan"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 1 and "--env prod" in res.stderr
    res = run("status")
    assert res.returncode == 1 and "--env local" in res.stderr


def test_apply_twice_then_drift_found_and_repaired(double: Double):
    first = run("azure", "apply", "--yes", "--json", env=double.env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["changes"] == 66
    again = run("azure", "apply", "--yes", "--json", env=double.env)
    assert json.loads(again.stdout)["changes"] == 0, again.stdout
    plan = json.loads(run("azure", "plan", "--json", env=double.env).stdout)
    assert plan["read"] and plan["operations"] == [] and plan["unchanged"] == 66
    ok = run("azure", "verify", "--json", env=double.env)
    assert ok.returncode == 0, ok.stdout
    # someone changes one parameter in the portal
    double.put(f"{SERVER}/configurations/work_mem", {"properties": {"value": "65536"}})
    bad = run("azure", "verify", "--json", env=double.env)
    assert bad.returncode == 1
    failed = [c for c in json.loads(bad.stdout)["checks"] if not c["ok"]]
    assert [c["id"] for c in failed] == ["param.work_mem"], failed
    assert failed[0]["expected"] == "16384" and "65536" in failed[0]["actual"]
    fix = run("azure", "apply", "--yes", "--json", env=double.env)
    assert json.loads(fix.stdout)["changed"] == ["parameter parameter.work_mem"]
    assert run("azure", "verify", env=double.env).returncode == 0


@pytest.mark.parametrize("point", ["server", "parameter.shared_buffers:after", "restart",
                                   "alert.cpu_percent:after"])
def test_kill_mid_apply_then_rerun_ends_the_same(double: Double, point: str):
    env = {**double.env, "BILLDB_JOURNAL_PAUSE_AT": point}
    proc = subprocess.Popen([BILLDB, "--env", "prod", "azure", "apply", "--yes", "--json"],
                            cwd=ROOT, env={**_CLEAN, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = Path(f"/proc/{proc.pid}/stat").read_text().split()[2]
        if state == "T":
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = run("azure", "apply", "--yes", "--json", env=double.env)
    assert rerun.returncode == 0, rerun.stderr
    doc = json.loads(rerun.stdout)
    assert doc["journal"]["resumed"] is True
    assert run("azure", "apply", "--yes", "--json", env=double.env).stdout.count(
        '"changes": 0') == 1
    v = run("azure", "verify", "--json", env=double.env)
    assert v.returncode == 0, [c for c in json.loads(v.stdout)["checks"] if not c["ok"]]


def test_arm_error_is_a_clear_message(tmp_path: Path):
    d = Double(tmp_path, PORT_BASE + 52, VNETS[:1])  # the replica's VNet does not exist
    try:
        res = run("azure", "apply", "--yes", env=d.env)
    finally:
        d.stop()
    assert res.returncode == 1
    assert "Azure refused subnet.replica" in res.stderr
    assert "ParentResourceNotFound" in res.stderr and "Traceback" not in res.stderr


def test_failover_and_promote_replica(double: Double):
    assert run("azure", "apply", "--yes", env=double.env).returncode == 0
    fo = json.loads(run("azure", "failover", "--json", env=double.env).stdout)
    assert (fo["ok"], fo["zone_before"], fo["zone_after"]) == (True, "1", "2")
    assert run("azure", "verify", env=double.env).returncode == 0  # zones swapped is the plan
    pr = run("azure", "promote-replica", "--forced", "--json", env=double.env)
    doc = json.loads(pr.stdout)
    assert pr.returncode == 0 and doc["role"] == "Primary" and doc["option"] == "Forced"
    assert {d["what"] for d in doc["dropped"]} >= {"zone-redundant HA", "geo-redundant backup",
                                                  "the built-in PgBouncer"}
    v = json.loads(run("azure", "verify", "--json", env=double.env).stdout)
    assert {c["id"] for c in v["checks"] if not c["ok"]} == {"replica.settings", "replica.role"}


def test_plan_with_a_read_lists_only_what_differs_and_create_only_is_refused(
        double: Double, tmp_path: Path):
    assert run("azure", "apply", "--yes", env=double.env).returncode == 0

    def edit(doc):
        doc["parameters"]["work_mem"] = "32MB"
        doc["backup"]["geo_redundant"] = False

    plan = write_plan(tmp_path / "p.yaml", tmp_path / "s", mutate=edit)
    res = run("azure", "plan", "--json", env=double.env, plan=plan)
    assert res.returncode == 1 and "properties.backup.geoRedundantBackup" in res.stderr
    assert "only at create" in res.stderr and "Traceback" not in res.stderr

    def edit2(doc):
        doc["parameters"]["work_mem"] = "32MB"

    plan = write_plan(tmp_path / "p2.yaml", tmp_path / "s", mutate=edit2)
    doc = json.loads(run("azure", "plan", "--json", env=double.env, plan=plan).stdout)
    assert [(o["key"], o["action"]) for o in doc["operations"]] == [
        ("parameter.work_mem", "update")]
    assert doc["operations"][0]["changes"] == [
        {"field": "properties.value", "want": "32768", "found": "16384"}]


@pytest.mark.unit
def test_every_body_round_trips_through_its_sdk_model():
    from billdb.azure import operations, sdk
    from billdb.azure.target import target
    from billdb.plan.load import load_plan

    ops = operations.build(target(load_plan(ROOT / "plans" / "bill-inquiry.yaml")), "pw")
    for op in ops:
        body = op.body()
        cls = type(op.model)
        again = cls.deserialize(body) if hasattr(cls, "deserialize") else cls(body)
        assert sdk.body(again) == body, op.key
    server = next(op for op in ops if op.key == "server")
    assert server.body()["properties"]["administratorLoginPassword"] == "pw"
    assert server.as_dict()["body"]["properties"]["administratorLoginPassword"] == "***"
