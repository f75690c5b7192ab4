"""The Secret-volume-shaped directory (billdb.secret_volume): the kubelet's layout, an atomic
switch a concurrent reader never sees half done, 0700/0600, old payloads removed."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from billdb import secret_volume

pytestmark = pytest.mark.unit


def test_layout_modes_and_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    vol = tmp_path / "vol"
    assert secret_volume.write(vol, {"A_PASSWORD": "one", "B_PASSWORD": "two"})
    assert not secret_volume.write(vol, {"A_PASSWORD": "one", "B_PASSWORD": "two"})
    assert (vol.stat().st_mode & 0o777) == 0o700
    assert os.readlink(vol / "A_PASSWORD") == "..data/A_PASSWORD"
    payload = vol / os.readlink(vol / "..data")
    assert payload.name.startswith("..") and (payload.stat().st_mode & 0o777) == 0o700
    assert ((payload / "A_PASSWORD").stat().st_mode & 0o777) == 0o600
    assert secret_volume.write(vol, {"A_PASSWORD": "three"})
    assert secret_volume.read(vol, "A_PASSWORD") == "three"
    assert secret_volume.read(vol, "B_PASSWORD") is None  # a key dropped from the Secret
    assert secret_volume.current(vol) == {"A_PASSWORD": "three"}
    assert payload.exists()  # the payload just replaced stays for GRACE_S
    three = os.readlink(vol / "..data")
    assert secret_volume.write(vol, {"A_PASSWORD": "four"})
    assert payload.exists() and (vol / three).exists()  # both replaced within the grace
    monkeypatch.setattr(secret_volume, "GRACE_S", 0.2)
    time.sleep(0.3)
    four = os.readlink(vol / "..data")
    assert secret_volume.write(vol, {"A_PASSWORD": "five"})
    assert not payload.exists() and not (vol / three).exists()  # replaced over 0.2 s ago
    assert sorted(p.name for p in vol.iterdir()) == sorted(  # "four" was replaced just now
        ["..data", os.readlink(vol / "..data"), four, "A_PASSWORD"])


def test_a_reader_never_sees_a_missing_or_mixed_value(tmp_path: Path):
    vol = tmp_path / "vol"
    secret_volume.write(vol, {"K": "v0" * 64})
    seen: set[str] = set()
    failures: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                seen.add((vol / "K").read_text())
            except OSError as exc:
                failures.append(repr(exc))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for n in range(1, 200):
            secret_volume.write(vol, {"K": f"v{n}" * 64})
    finally:
        done.set()
        t.join()
    assert failures == []
    assert all(v == v[:v.index("v", 1)] * 64 for v in seen), seen  # whole values only
    assert len(seen) > 1


def test_refuses_a_key_that_is_not_a_file_name(tmp_path: Path):
    for bad in ("..data", "a/b", ""):
        with pytest.raises(ValueError, match="not a Secret key"):
            secret_volume.write(tmp_path / "vol", {bad: "x"})
