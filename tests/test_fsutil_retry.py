"""The atomic writer and the waiting primitive (no server)."""

from __future__ import annotations

import os
import stat
import time

import pytest

from billdb import fsutil
from billdb.retry import retry, wait_until

pytestmark = pytest.mark.unit


def test_write_atomic_sets_the_mode_and_reports_a_change(tmp_path):
    target = tmp_path / "sub" / "secret.json"
    assert fsutil.write_atomic(target, "s3cret\n", 0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == "s3cret\n"
    assert not fsutil.write_atomic(target, "s3cret\n", 0o600)  # same content and mode
    assert fsutil.write_atomic(target, "s3cret\n", 0o640)  # the mode alone changed
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert fsutil.write_atomic(target, b"\x00bytes", 0o600, owner=os.getuid())
    assert target.read_bytes() == b"\x00bytes"
    assert [p.name for p in target.parent.iterdir()] == ["secret.json"]  # no temp left


def test_write_atomic_never_shows_content_under_a_looser_mode(tmp_path, monkeypatch):
    seen = []
    real = os.fchmod

    def spy(fd, mode):
        seen.append((os.fstat(fd).st_size, mode))
        real(fd, mode)

    monkeypatch.setattr(os, "fchmod", spy)
    fsutil.write_atomic(tmp_path / "k", "key material", 0o600)
    assert seen == [(0, 0o600)]  # the mode was set while the file was still empty


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "conf"
    fsutil.write_atomic(target, "old", 0o644)

    def boom(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        fsutil.write_atomic(target, "new", 0o644)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["conf"]


def test_wait_until_and_retry():
    t0 = time.monotonic()
    assert wait_until(lambda: time.monotonic() - t0 > 0.2, timeout=2, interval=0.05)
    assert not wait_until(lambda: False, timeout=0.2, interval=0.05)
    assert time.monotonic() - t0 < 1.5
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("not yet")
        return "ok"

    assert retry(flaky, timeout=2, interval=0.01, on=ConnectionError) == "ok"
    with pytest.raises(ZeroDivisionError):
        retry(lambda: 1 / 0, timeout=0.1, interval=0.02, on=ZeroDivisionError)
    with pytest.raises(KeyError):  # not retried: not of the type asked for
        retry(lambda: {}["x"], timeout=5, interval=0.02, on=ConnectionError)


@pytest.mark.unit
def test_poll_returns_the_value_and_a_timeout_carries_the_last_one():
    from billdb.retry import PollTimeout, poll

    seen = iter([1, 2, 3, 4])
    assert poll(lambda: next(seen), 5, 0.01, until=lambda v: v >= 3) == 3
    calls = iter([ValueError("down"), 7])

    def flaky() -> int:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item
    assert poll(flaky, 5, 0.01, on=ValueError) == 7
    with pytest.raises(PollTimeout) as caught:
        poll(lambda: 0, 0.05, 0.01)
    assert caught.value.last == 0 and caught.value.seconds == 0.05
    with pytest.raises(KeyError):  # not an `on` exception: at once, not after the timeout
        poll(lambda: {}["x"], 5, 0.01, on=ValueError)
