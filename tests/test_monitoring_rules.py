"""The rules rendered from the plan, checked by Prometheus's own promtool (no server needed):
`promtool check rules`, then `promtool test rules` with one case per alert at its boundary."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from billdb.monitoring import config, rules
from billdb.plan.load import load_plan

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "promtool" / "cases.yaml"
pytestmark = [pytest.mark.unit,
              pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed")]


def _alerts() -> list[rules.Alert]:
    plan = load_plan(ROOT / "plans" / "bill-inquiry.yaml")
    return rules.all_alerts(plan, "/", 3, True)


def _expand(case: dict, alert: rules.Alert) -> dict:
    """One promtool test: quiet times expect no alert, the fire time this alert's labels."""
    fire = case["fire"]
    expected = {**{k: str(v) for k, v in fire["labels"].items()},
                "severity": alert.severity, "section": alert.section}
    checks = [{"eval_time": t, "alertname": alert.name, "exp_alerts": []}
              for t in case.get("quiet", [])]
    checks.append({"eval_time": fire["at"], "alertname": alert.name, "exp_alerts": [{
        "exp_labels": expected,
        "exp_annotations": {"summary": fire.get("summary", alert.summary),
                            "value": fire["value"]}}]})
    return {"name": alert.name, "interval": case["interval"],
            "input_series": [{"series": s, "values": v} for s, v in case["series"].items()],
            "alert_rule_test": checks}


def test_every_alert_has_a_promtool_case_and_passes(tmp_path: Path) -> None:
    alerts = {a.name: a for a in _alerts()}
    cases = YAML(typ="safe").load(CASES.read_text(encoding="utf-8"))
    assert sorted(c["alert"] for c in cases) == sorted(alerts), "one case per alert"
    rule_path = tmp_path / "rules.yml"
    rule_path.write_text(config.dump(rules.rule_file(list(alerts.values()))), encoding="utf-8")
    check = subprocess.run(["promtool", "check", "rules", str(rule_path)],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(alerts)} rules found" in check.stdout
    tests = {"rule_files": [rule_path.name], "evaluation_interval": "15s",
             "tests": [_expand(c, alerts[c["alert"]]) for c in cases]}
    test_path = tmp_path / "rules_test.yml"
    test_path.write_text(json.dumps(tests, indent=1), encoding="utf-8")
    res = subprocess.run(["promtool", "test", "rules", str(test_path)],
                         capture_output=True, text=True, check=False, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_plan_alerts_take_the_plan_thresholds() -> None:
    plan = load_plan(ROOT / "plans" / "bill-inquiry.yaml")
    by = {a.name: a for a in rules.plan_alerts(plan, "/var")}
    assert by["PostgresConnectionsHigh"].expr.endswith(f">= {plan.monitoring.connections}")
    assert by["FailedConnectionsHigh"].expr.endswith(
        f">= {plan.monitoring.failed_connections_per_min}")
    assert 'mountpoint="/var"' in by["StateDiskHigh"].expr
    assert by["HostCpuHigh"].for_ == "5m"
    assert all(a.severity in ("sev1", "sev2", "sev3") for a in _alerts())
