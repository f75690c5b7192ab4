"""`billdb cost`: per-component figures from the plan's price table, beside §11.1."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from billdb import cost
from billdb.errors import PlanError
from billdb.lint import azure_network
from billdb.lint.yaml_rules import Lines
from billdb.plan.load import load_plan
from conftest import BILLDB, PLAN, ROOT

pytestmark = pytest.mark.unit


def test_cost_json_components_and_the_plans_table():
    res = subprocess.run([BILLDB, "--env", "prod", "cost", "--json"], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    by = {c["component"]: c for c in doc["components"]}
    main, standby = by["main server compute"], by["HA standby compute"]
    assert main["monthly"] == standby["monthly"] == round(4 * 0.103 * 730, 2)
    assert standby["plan_monthly"] is None and main["plan_monthly"] == 450
    # the replica as large as the primary (Azure: at least the primary's compute)
    assert by["read replica compute"]["monthly"] == round(4 * 0.0927 * 730, 2)  # Korea South
    assert by["read replica compute"]["meters"][0]["key"] == "koreasouth.vcore_hour.Dsv3"
    backup = by["backup storage beyond the free amount"]
    assert backup["monthly"] == round((2 * 300 - 256) * 0.114, 2)  # geo copy, beyond free
    total = sum(c["monthly"] for c in doc["components"])
    compute = sum(c["monthly"] for c in doc["components"] if c["compute"])
    assert doc["total_monthly"] == round(total, 2)
    assert doc["total_reserved_monthly"] == round(total - 0.2 * compute, 2)  # compute only
    assert doc["plan"]["total_monthly"] == 755 and doc["plan"]["section"] == "§11.1"
    assert any(g.startswith("HA standby compute") for g in doc["plan_leaves_out"])
    assert "not fetched" in doc["prices"]["source"] and doc["prices"]["as_of"]


def test_cost_without_a_price_table_is_a_plan_error(tmp_path: Path):
    text = PLAN.read_text().split("  prices:\n")[0] + "\n" + PLAN.read_text().split(
        "      dumps_stored_gb: 260                 # 13 weekly dumps (90 days) x 20 GB\n")[1]
    (tmp_path / "p.yaml").write_text(text)
    res = subprocess.run([BILLDB, "--plan", str(tmp_path / "p.yaml"), "cost"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2 and "cost.prices is missing" in res.stderr
    with pytest.raises(PlanError, match=r"cost\.prices"):
        cost.estimate(load_plan(tmp_path / "p.yaml"))


def test_lint_private_dns_zone_of_private_endpoint_is_flagged():
    found = {f.id: f for f in azure_network.findings(load_plan(PLAN), Lines(PLAN))}
    zone = found["azure.private_dns_zone"]
    assert zone.severity == "warning" and zone.section == "§3.1"
    assert PLAN.read_text().splitlines()[zone.line - 1].strip().startswith("private_dns_zone:")
    assert "phonebill-bill-inquiry-prod-pg.private.postgres.database.azure.com" in zone.fix
    assert "azure.private_endpoint" in found and "azure.replica_subnet" not in found


def test_every_price_names_its_meter_source_and_date_and_peering_is_billed_twice():
    from billdb import cost_meters

    doc = cost.estimate(load_plan(PLAN))
    rows = [m for c in doc["components"] for m in c["meters"]]
    assert all(m["service"] and m["product"] and m["meter"] and m["region"] and m["unit"]
               and m["as_of"] and m["source"] for m in rows)
    assert "not fetched" in rows[0]["source"] and doc["prices"]["fetched"] == []
    by = {c["component"]: c for c in doc["components"]}
    peering = by["cross-region transfer (VNet peering)"]
    assert [m["meter"] for m in peering["meters"]] == ["Outbound data transfer",
                                                       "Inbound data transfer"]
    assert peering["monthly"] == round(150 * (0.08 + 0.08), 2)
    assert cost_meters.series("Standard_D4s_v3") == "Dsv3"
    assert cost_meters.series("Standard_D4ds_v5") == "Ddsv5"  # a meter of its own
    plan = load_plan(PLAN)
    with pytest.raises(PlanError, match="no price for the Ddsv5 series"):
        cost_meters.compute(plan.cost.prices, "koreacentral", "Standard_D4ds_v5", {})


def test_cost_refresh_offline_says_so_in_one_line(tmp_path: Path, monkeypatch):
    from billdb import cost_refresh

    monkeypatch.setenv("BILLDB_AZURE_STATE", str(tmp_path))
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")  # nothing listens: offline
    fresh, line = cost_refresh.refresh(list(cost.meters(load_plan(PLAN)).values()), 2.0)
    assert fresh is False and line.startswith("prices not refreshed:") and "\n" not in line
    assert not (tmp_path / "prices-cache.json").exists()
    env = {**os.environ, "BILLDB_AZURE_STATE": str(tmp_path),
           "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    argv = [BILLDB, "--env", "prod", "cost", "--refresh", "--require-fresh", "--json"]
    strict = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env=env)
    said = [x for x in strict.stderr.splitlines() if not x.startswith("billdb: plan ")]
    assert strict.returncode == 1 and len(said) == 1  # one line (and which plan), then exit 1
    assert said[0].startswith("prices not refreshed:")
    doc = json.loads(strict.stdout)
    assert doc["refresh"]["fresh"] is False and doc["prices"]["not_fetched"]
