"""`billdb --env prod azure rotate-admin` against the contract double (NOT Azure): the
administrator's password changed with a PATCH of properties.administratorLoginPassword, the
long-running operation waited for, the new password stored (0600) where billdb reads it,
journaled so a killed rotation is finished by a rerun; the password never in the output, the
journal or a GET. The double's side of the contract is tested first: the password is
write-only and takes effect only when its operation has succeeded."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from billdb.azure import admin_rotate, contract, sdk
from conftest import BILLDB, PORT_BASE, ROOT
from test_azure import _CLEAN, SERVER, VNETS, Double, run


def _http(d: Double, method: str, path: str, body: dict | None = None
          ) -> tuple[int, dict[str, str], dict]:
    ctx = ssl.create_default_context(cafile=str(d.dir / "ca.crt"))
    url = path if path.startswith("https://") else f"https://127.0.0.1:{d.port}{path}"
    req = urllib.request.Request(url, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer t",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else {}
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def _logs_in(d: Double, password: str) -> bool:
    return _http(d, "POST", "/_double/login", {"server": SERVER, "password": password})[2]["ok"]


def _state(d: Double) -> Path:
    return Path(d.env["BILLDB_AZURE_STATE"])


def _admin_password(d: Double) -> str:
    path = _state(d) / "admin-password"
    assert (path.stat().st_mode & 0o777) == 0o600
    return path.read_text().strip()


@pytest.fixture
def double(tmp_path: Path):
    d = Double(tmp_path, PORT_BASE + 55, VNETS)
    yield d
    d.stop()


@pytest.mark.unit
def test_the_patch_body_is_the_password_only_and_passes_the_contract():
    body = sdk.body(admin_rotate.patch_model("S3cret-Aa1!"))
    assert body == {"properties": {"administratorLoginPassword": "S3cret-Aa1!"}}
    assert [p for p in contract.check_request(SERVER, "PATCH", body)
            if p.severity == "error"] == []
    login = {"properties": {"administratorLogin": "other", **body["properties"]}}
    assert any(p.severity == "error" for p in contract.check_request(SERVER, "PATCH", login))


def test_the_double_keeps_the_password_write_only_and_applies_it_when_done(double: Double):
    srv = {"location": "koreacentral", "sku": {"name": "Standard_D4s_v3",
                                                "tier": "GeneralPurpose"},
           "properties": {"createMode": "Create", "administratorLogin": "a",
                          "administratorLoginPassword": "first-Aa1!", "version": "15"}}
    assert _http(double, "PUT", f"{SERVER}?api-version=2026-10-01", srv)[0] == 202
    assert _logs_in(double, "first-Aa1!") and not _logs_in(double, "second-Aa1!")
    status, headers, _ = _http(double, "PATCH", f"{SERVER}?api-version=2026-10-01",
                               {"properties": {"administratorLoginPassword": "second-Aa1!"}})
    assert status == 202 and {"Azure-AsyncOperation", "Location", "Retry-After"} <= set(headers)
    poll = headers["Azure-AsyncOperation"]
    assert _http(double, "GET", poll)[2]["status"] == "InProgress"
    assert _logs_in(double, "first-Aa1!")  # not yet: the operation is still running
    assert _http(double, "GET", poll)[2]["status"] == "Succeeded"
    assert _logs_in(double, "second-Aa1!") and not _logs_in(double, "first-Aa1!")
    got = json.dumps(_http(double, "GET", f"{SERVER}?api-version=2026-10-01")[2])
    assert "administratorLoginPassword" not in got and "Aa1!" not in got


def test_rotate_admin_changes_stores_and_never_shows_the_password(double: Double):
    assert run("azure", "apply", "--yes", env=double.env).returncode == 0
    old = _admin_password(double)
    assert _logs_in(double, old)
    res = run("azure", "rotate-admin", "--json", env=double.env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    new = _admin_password(double)
    assert doc["ok"] and doc["method"] == "PATCH" and doc["api_version"] == "2026-10-01"
    assert new != old and _logs_in(double, new) and not _logs_in(double, old)
    assert "BILLDB_AZURE_SQL=off" in doc["verified"]
    assert not (_state(double) / "admin-password.next").exists()
    _never_shown(double, [old, new], res.stdout + res.stderr)
    assert run("azure", "apply", "--yes", "--json", env=double.env).stdout.count(
        '"changes": 0') == 1  # the rotation is no drift for apply


def _never_shown(d: Double, secrets: list[str], output: str) -> None:
    journals = "".join(p.read_text() for p in (_state(d) / "journal").rglob("*.json"))
    got = json.dumps(_http(d, "GET", f"{SERVER}?api-version=2026-10-01")[2])
    for s in secrets:
        assert s not in output and s not in journals and s not in got


@pytest.mark.parametrize("point", ["server", "server:after", "store"])
def test_a_killed_rotation_is_finished_by_a_rerun(double: Double, point: str):
    assert run("azure", "apply", "--yes", env=double.env).returncode == 0
    old = _admin_password(double)
    env = {**_CLEAN, **double.env, "BILLDB_JOURNAL_PAUSE_AT": point}
    proc = subprocess.Popen([BILLDB, "--env", "prod", "azure", "rotate-admin", "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{proc.pid}/stat").read_text().split()[2] != "T":
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate()
    if point == "server:after":  # Azure has the new password; billdb kept it as the next one
        assert not _logs_in(double, old) and _admin_password(double) == old
    other = run("azure", "apply", "--yes", env=double.env)
    assert other.returncode == 2 and "rotate-admin" in other.stderr  # finish it first
    rerun = run("azure", "rotate-admin", "--json", env=double.env)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["journal"]["resumed"] is True
    new = _admin_password(double)
    assert new != old and _logs_in(double, new) and not _logs_in(double, old)
    _never_shown(double, [old, new], out + err + rerun.stdout + rerun.stderr)
