"""Renderers are pure: the plan in, configuration out."""

from __future__ import annotations

from pathlib import Path

import pytest

from billdb.layout import Layout
from billdb.plan.load import load_plan
from billdb.render.hba import hba_rules
from billdb.render.patroni import dcs_config, member_config
from billdb.render.roles import privilege_statements
from conftest import PLAN

pytestmark = pytest.mark.unit  # no server: plan, render and pure helpers

plan = load_plan(PLAN)


def test_hba_has_only_tls_network_rules_with_scram():
    rules = hba_rules(plan, "local")
    network = [r for r in rules if r.type != "local"]
    assert network and all(r.type == "hostssl" and r.method == "scram-sha-256" for r in network)
    assert all(r.user == "postgres" for r in rules if r.type == "local")
    app = [r for r in network if "bill_app_user" in r.user]
    assert [r.address for r in app] == ["127.0.0.0/8"]
    assert [r.address for r in hba_rules(plan, "prod") if "bill_app_user" in r.user] == [
        "10.0.0.0/23"]


def test_replica_member_is_never_promoted_nor_synchronous():
    pw = {"postgres": "x", "replicator": "y", "rewinder": "z"}
    layout = Layout(Path("/tmp/state"))
    members = {m.name: m for m in plan.environments.local.members}
    replica = member_config(plan, layout, members["replica"], pw)
    zone = member_config(plan, layout, members["zone2"], pw)
    assert replica["tags"]["nofailover"] and replica["tags"]["nosync"]
    assert not zone["tags"]["nofailover"]
    assert "data-checksums" in zone["bootstrap"]["initdb"]
    assert dcs_config(plan)["synchronous_mode"] is True


def test_application_role_gets_no_ddl_and_default_privileges_name_the_owner():
    text = [s.as_string(None) for s in privilege_statements(plan, {})]
    app = [t for t in text if '"bill_app_user"' in t and t.startswith("GRANT")]
    granted = " ".join(t.split(" ON ")[0] for t in app)
    assert app and not any(p in granted for p in ("CREATE", "TRUNCATE", "ALL"))
    defaults = [t for t in text if t.startswith("ALTER DEFAULT PRIVILEGES")]
    assert defaults and all('FOR ROLE "bill_owner"' in t for t in defaults)
