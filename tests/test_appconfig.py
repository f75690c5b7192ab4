"""`billdb app-config`: the service's datasources from the plan (no server needed)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import billdb, write_plan

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("appconfig")
    return write_plan(d / "plan.yaml", d / "state", 31000)


def _rendered(plan: Path, fmt: str, env: str = "local", pooled: bool = False) -> dict:
    """What `app-config --format jdbc-json|client-json` prints, rendered in process: the
    tests below go through the command once per format and use this for the matrix."""
    from billdb import appconfig
    from billdb.context import load_context

    s = appconfig.settings(load_context(plan, env), env, pooled)
    return appconfig.jdbc_json(s) if fmt == "jdbc-json" else appconfig.client_profile(s)


def _yaml_docs(text: str) -> list:
    return list(YAML(typ="safe").load_all(io.StringIO(text)))


def _secrets_absent(text: str, plan: Path) -> None:
    assert "password=" not in text.lower()
    for line in text.splitlines():
        if "password" in line.lower() and ":" in line and "${" not in line \
                and "Env" not in line and "_env" not in line and "password-file:" not in line \
                and not line.strip().startswith("#"):
            raise AssertionError(f"a password value? {line!r}")


def test_spring_is_valid_yaml_with_both_datasources_and_the_pool_settings(plan: Path):
    text = billdb("app-config", "--format", "spring", plan=plan).stdout
    (doc,) = _yaml_docs(text)
    ds = doc["spring"]["datasource"]
    m, r = ds["master"], ds["readonly"]
    for d in (m, r):
        assert (d["maximum-pool-size"], d["connection-timeout"], d["idle-timeout"],
                d["max-lifetime"]) == (15, 30000, 600000, 1800000)
        assert "password" not in d  # read from the Secret volume, never a value here
        assert d["password-file"].endswith("/secrets/secret-volume/" + d["username"].upper()
                                           + "_PASSWORD"), d["password-file"]
        for p in ("sslmode=verify-full", "sslrootcert=", "hostRecheckSeconds=",
                  "connectTimeout=", "socketTimeout=", "loginTimeout=", "tcpKeepAlive=true"):
            assert p in d["jdbc-url"], p
    assert "targetServerType=primary" in m["jdbc-url"] and m["username"] == "bill_app_user"
    assert m["jdbc-url"].startswith("jdbc:postgresql://127.0.0.1:31010,127.0.0.1:31011/")
    assert "targetServerType=preferSecondary" in r["jdbc-url"]
    assert r["jdbc-url"].startswith("jdbc:postgresql://127.0.0.1:31012,")  # replica first
    assert r["username"] == "bill_readonly_user"
    for setting in ("hostRecheckSeconds", "connectTimeout", "socketTimeout", "loginTimeout",
                    "tcpKeepAlive", "keepalive-time", "validation-timeout"):
        assert any(setting in line and "#" in line for line in text.splitlines()), setting
    _secrets_absent(text, plan)


def test_spring_prod_through_the_pooler_has_the_secret_manifest(plan: Path):
    text = billdb("--env", "prod", "app-config", "--format", "spring", "--through-pooler",
                  plan=plan).stdout
    app, secret = _yaml_docs(text)
    url = app["spring"]["datasource"]["master"]["jdbc-url"]
    # Azure's PgBouncer carries prepared statements (pgbouncer.max_prepared_statements)
    assert ".postgres.database.azure.com:6432/" in url and "prepareThreshold" not in url
    assert "pgbouncer.max_prepared_statements" in text
    assert secret["kind"] == "Secret"
    assert secret["stringData"] == {"BILL_APP_USER_PASSWORD": "",
                                    "BILL_READONLY_USER_PASSWORD": "",
                                    "BILLDB_COLUMN_KEYRING": ""}
    files = [v["password-file"] for v in app["spring"]["datasource"].values()]
    assert {f.rsplit("/", 1)[0] for f in files} == {"/etc/bill-inquiry/db-secret"}
    assert {f.rsplit("/", 1)[1] for f in files} <= set(secret["stringData"])
    assert "subPath" in text and "envFrom" not in text
    same = billdb("app-config", "--env", "prod", "--format", "spring", "--through-pooler",
                  plan=plan).stdout
    assert same == text


def test_jdbc_json_env_and_client_json(plan: Path):
    doc = json.loads(billdb("app-config", "--format", "jdbc-json", plan=plan).stdout)
    m = doc["datasources"]["master"]
    assert m["password"] == "${BILL_APP_USER_PASSWORD}" and m["hikari"]["maximumPoolSize"] == 15
    assert m["passwordFile"].endswith("/state/secrets/secret-volume/BILL_APP_USER_PASSWORD")
    pooled = json.loads(billdb("app-config", "--format", "jdbc-json", "--through-pooler",
                               plan=plan).stdout)
    assert "/bill_inquiry_db_read?" in pooled["datasources"]["readonly"]["jdbcUrl"]
    # both PgBouncers keep the clients' prepared statements (pooler.max_prepared_statements)
    assert "prepareThreshold" not in pooled["datasources"]["master"]["jdbcUrl"]
    for env in ("local", "prod"):
        for pooled_flag in ((), ("--through-pooler",)):
            prof = _rendered(plan, "client-json", env, bool(pooled_flag))
            assert prof["pooler"]["prepared_statements"] is True, (env, pooled_flag)
    env = billdb("app-config", "--format", "env", plan=plan).stdout
    assert "export PGSSLMODE=verify-full" in env and "PGPASSWORD=" not in env
    prof = json.loads(billdb("app-config", "--format", "client-json", plan=plan).stdout)
    assert prof["roles"] == {"write": "bill_app_user", "read": "bill_readonly_user"}
    assert prof["encrypted_columns"]["customer_info.customer_name"] == "customer_id"
    assert prof["routes"]["write"] == [["127.0.0.1", 31010], ["127.0.0.1", 31011]]


def test_a_pooler_without_prepared_statements_makes_clients_not_prepare(tmp_path: Path):
    plan = write_plan(tmp_path / "plan.yaml", tmp_path / "state", 31000,
                      mutate=lambda d: d["pooler"].update(max_prepared_statements=0))
    for env in ("local", "prod"):
        pooled = _rendered(plan, "jdbc-json", env, pooled=True)
        assert all("prepareThreshold=0" in d["jdbcUrl"]
                   for d in pooled["datasources"].values()), env
        direct = _rendered(plan, "jdbc-json", env)
        assert "prepareThreshold" not in direct["datasources"]["master"]["jdbcUrl"]
        prof = _rendered(plan, "client-json", env, pooled=True)
        assert prof["pooler"]["prepared_statements"] is False
    text = billdb("app-config", "--format", "spring", "--through-pooler", plan=plan).stdout
    assert "prepareThreshold=0: the plan's PgBouncer keeps no prepared statements" in text


def test_bad_format_or_env_exits_2_without_a_traceback(plan: Path):
    for args in (("--format", "xml"), ("--env", "staging")):
        res = billdb("app-config", *args, plan=plan, check=False)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
