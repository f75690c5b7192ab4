"""`azure export`: the ARM template from the same bodies, the az script checked offline
against the Azure CLI's definitions, and the seed's §12.3 script failing that check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import BILLDB, ROOT

pytestmark = pytest.mark.unit
SEED = ROOT.parent / "shared" / "seed" / "db-plan-bill-inquiry-prod.md"


def prod(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BILLDB, "--env", "prod", "azure", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


def test_export_arm_is_the_plan_bodies():
    res = prod("export", "--format", "arm")
    assert res.returncode == 0, res.stderr
    tpl = json.loads(res.stdout)
    plan = json.loads(prod("plan", "--json").stdout)
    writes = [op for op in plan["operations"] if op["method"] == "PUT"]
    assert len(tpl["resources"]) == len(writes) == 64
    by_type: dict[str, dict] = {}
    for r in tpl["resources"]:
        by_type.setdefault(r["type"], r)  # the first of each type
    srv = by_type["Microsoft.DBforPostgreSQL/flexibleServers"]
    assert srv["name"] == "phonebill-bill-inquiry-prod-pg" and srv["apiVersion"] == "2026-10-01"
    assert srv["properties"]["administratorLoginPassword"] == \
        "[parameters('administratorLoginPassword')]"
    assert tpl["parameters"]["administratorLoginPassword"]["type"] == "securestring"
    cfg = [r for r in tpl["resources"]
           if r["type"] == "Microsoft.DBforPostgreSQL/flexibleServers/configurations"]
    assert len(cfg) == 32 and cfg[0]["name"].startswith("phonebill-bill-inquiry-prod-pg/")
    sub = by_type["Microsoft.Network/virtualNetworks/subnets"]
    assert sub["name"] == "phonebill-vnet/database-subnet"
    assert all("dependsOn" in r for r in tpl["resources"][1:])


def test_export_az_passes_the_offline_check(tmp_path: Path):
    res = prod("export", "--format", "az")
    assert res.returncode == 0, res.stderr
    script = tmp_path / "install.sh"
    script.write_text(res.stdout)
    assert "ADMIN_PASSWORD:?" in res.stdout and "--geo-redundant-backup Enabled" in res.stdout
    # the platform's rules, as in `azure plan`: Sunday 02:00 KST is Saturday 17:00 UTC
    assert "--maintenance-window Sat:17:00" in res.stdout
    assert res.stdout.count("az network nsg rule create") == 8
    assert res.stdout.count("az network vnet peering create") == 2
    assert "physical_replication_delay_in_bytes >= " in res.stdout
    assert "--group-id blob" in res.stdout and "privatelink.blob.core.windows.net" in res.stdout
    assert res.stdout.count("az monitor diagnostic-settings create") == 2
    chk = prod("check-script", str(script), "--json")
    assert chk.returncode == 0, chk.stdout
    doc = json.loads(chk.stdout)
    assert doc["counts"]["error"] == 0
    assert {f["id"] for f in doc["findings"]} == {"doc.az_unchecked"}  # network/monitor cmds


@pytest.mark.skipif(not SEED.exists(), reason="shared/seed is not beside this clone")
def test_the_seed_script_fails_the_check_on_its_errors(tmp_path: Path):
    text = SEED.read_text(encoding="utf-8").split("### 12.3")[1].split("```bash\n")[1]
    script = tmp_path / "seed-12.3.sh"
    script.write_text(text.split("```")[0])
    res = prod("check-script", str(script), "--json")
    assert res.returncode == 1
    ids = {f["id"] for f in json.loads(res.stdout)["findings"] if f["severity"] == "error"}
    assert {"doc.az_unknown_command",          # vnet-rule does not exist
            "doc.az_not_a_parameter",          # backup_retention_days is not a parameter
            "azure.geo_backup_at_create",      # never enabled, and only possible at create
            "azure.script_no_replica", "azure.script_no_alerts",
            "azure.script_no_parameters"} <= ids, ids
