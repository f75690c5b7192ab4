"""Pure parts of monitoring: configs from the plan, the alert log's summary, the plan's
monitoring settings (bad input exits 2 naming the field), the Grafana dashboard."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from billdb.monitoring import config, grafana, receiver
from billdb.plan.load import load_plan
from conftest import BILLDB, ROOT, write_plan

pytestmark = pytest.mark.unit
PLAN = ROOT / "plans" / "bill-inquiry.yaml"


def _note(status: str, start: str, end: str, value: str) -> dict:
    return {"alerts": [{"status": status, "startsAt": start, "endsAt": end,
                        "fingerprint": "f1",
                        "labels": {"alertname": "PostgresConnectionsHigh", "severity": "sev2",
                                   "section": "§8.1 connections", "member": "zone1"},
                        "annotations": {"summary": "s", "value": value}}]}


def test_alert_log_summary_pairs_firing_and_resolved() -> None:
    t = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    lines = receiver.entries(_note("firing", "2026-12-01T12:00:00.123456789Z",
                                   "0001-01-01T00:00:00Z", "181"), t)
    lines += receiver.entries(_note("resolved", "2026-12-01T12:00:00.123456789Z",
                                    "2026-12-01T12:01:00.5Z", "181"), t)
    got = receiver.summarize(lines)
    assert len(got) == 1 and not got[0]["firing"]
    assert got[0]["resolved"] == "2026-12-01T12:01:00.5Z" and got[0]["value"] == "181"
    assert got[0]["severity"] == "sev2" and got[0]["section"] == "§8.1 connections"
    assert receiver.summarize(lines, datetime(2026, 12, 1, 13, 0, tzinfo=UTC)) == []
    assert receiver.summarize(lines[:1], datetime(2026, 12, 2, tzinfo=UTC))[0]["firing"]


def test_receiver_url_is_a_plan_setting(tmp_path: Path) -> None:
    def mutate(doc: dict) -> None:
        doc["environments"]["local"]["monitoring"]["receiver_url"] = "https://hooks.example/a"

    plan = load_plan(write_plan(tmp_path / "p.yaml", tmp_path / "state", 31000, mutate))
    am = config.alertmanager_config(plan.environments.local)
    assert am["receivers"][0]["webhook_configs"][0]["url"] == "https://hooks.example/a"
    sev1 = am["route"]["routes"][0]
    assert sev1["matchers"] == ['severity="sev1"'] and sev1["group_wait"] == "0s"
    default = config.alertmanager_config(load_plan(PLAN).environments.local)
    assert default["receivers"][0]["webhook_configs"][0]["url"].endswith(":19095/alerts")


def test_bad_monitoring_ports_exit_2_naming_the_field(tmp_path: Path) -> None:
    def mutate(doc: dict) -> None:
        doc["environments"]["local"]["monitoring"]["postgres_exporter_ports"] = [31013]

    plan = write_plan(tmp_path / "p.yaml", tmp_path / "state", 31000, mutate)
    res = subprocess.run([BILLDB, "--plan", str(plan), "alerts"], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "postgres_exporter_ports" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr


def test_bad_since_exits_2(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "p.yaml", tmp_path / "state", 31000)
    res = subprocess.run([BILLDB, "--plan", str(plan), "alerts", "--since", "yesterday"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 2 and "--since" in res.stdout + res.stderr


def test_queries_use_total_exec_time_and_no_master_flag() -> None:
    q = YAML(typ="safe").load(config.queries_yaml(15))
    assert "total_exec_time" in q["pg_billdb_statements"]["query"]
    assert all("master" not in v for v in q.values())
    prom = config.prometheus_config(load_plan(PLAN).environments.local, Path("/r.yml"))
    assert prom["global"]["scrape_timeout"] >= "2s"
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert len(jobs["postgres"]["static_configs"]) == 3 and "patroni" in jobs


def test_grafana_dashboard_has_the_report_panels() -> None:
    d = grafana.dashboard(load_plan(PLAN))
    titles = [p["title"] for p in d["panels"]]
    assert "Client connections per member" in titles and "Probe latency p99" in titles
    conn = d["panels"][titles.index("Client connections per member")]
    assert conn["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] == 180
    json.dumps(d)
