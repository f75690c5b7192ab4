"""A directory shaped like a mounted Kubernetes Secret volume, updated the way the kubelet
updates one, so a client that works against this directory works in a pod unchanged.

The kubelet's AtomicWriter (k8s.io/kubernetes pkg/volume/util/atomic_writer.go) lays a Secret
out as:

    <dir>/..2026_12_06_08_07_59.123456789/KEY   the payload, in a timestamped directory
    <dir>/..data -> ..2026_12_06_08_07_59.123456789
    <dir>/KEY -> ..data/KEY                      what the application opens

and updates it by writing a new timestamped directory, pointing a `..data_tmp` symlink at it
and renaming that over `..data` (one rename(2): atomic), then removing the old directory. A
reader that opens `<dir>/KEY` sees the old value or the new one, never a mix or a missing
file. The application must open the path again for each read (never keep the file open, never
use a `subPath` mount: those are not updated).

Here the directory is 0700 and every payload file 0600 (the owner is whoever runs billdb: root
locally); it lives under the environment's 0700 secrets directory, never in git.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from pathlib import Path

from billdb.fsutil import write_atomic

DATA = "..data"
STAMP = "..%Y_%m_%d_%H_%M_%S.%f"
# A payload replaced less than this long ago stays: a reader whose open() resolved `..data`
# just before a switch still finds its file, however many switches follow in that time.
GRACE_S = 30.0


def read(directory: Path, key: str) -> str | None:
    """The value of `key` as a pod would read it, or None when absent."""
    try:
        return (directory / key).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def current(directory: Path) -> dict[str, str]:
    """Every key and value in the volume now."""
    data = directory / DATA
    if not data.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(data.iterdir())
            if p.is_file()}


def write(directory: Path, values: dict[str, str]) -> bool:
    """Make the volume hold exactly `values` (atomically, as the kubelet does); True when it
    changed. Keys are file names: letters, digits, '-', '_' and '.' (not starting with '..')."""
    for key in values:
        if not key or key.startswith("..") or "/" in key:
            raise ValueError(f"not a Secret key: {key!r}")
    if current(directory) == values and _links_ok(directory, values):
        return False
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    stamp = dt.datetime.now(dt.UTC).strftime(STAMP)
    payload = directory / stamp
    payload.mkdir(mode=0o700)
    for key, value in values.items():
        write_atomic(payload / key, value, mode=0o600, only_if_changed=False)
    tmp = directory / (DATA + "_tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(stamp)
    os.replace(tmp, directory / DATA)  # the switch: one rename
    for key in values:
        link = directory / key
        if not link.is_symlink() or os.readlink(link) != f"{DATA}/{key}":
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(f"{DATA}/{key}")
    _prune(directory, values, stamp)
    return True


def _links_ok(directory: Path, values: dict[str, str]) -> bool:
    return all(os.path.islink(directory / k) and os.readlink(directory / k) == f"{DATA}/{k}"
               for k in values)


def _replaced_at(name: str, later: list[str]) -> dt.datetime | None:
    """When payload `name` stopped being current: the stamp of the first payload after it."""
    after = [n for n in later if n > name]
    return dt.datetime.strptime(min(after), STAMP).replace(tzinfo=dt.UTC) if after else None


def _prune(directory: Path, values: dict[str, str], current_stamp: str) -> None:
    """Remove payload directories replaced more than GRACE_S ago, and links to keys no longer
    in the Secret. The kubelet removes the old payload at once, and a reader whose path walk
    passed `..data` a moment before gets ENOENT (seen here once in 199 tight switches under
    load, and again, two switches apart, when only the last replaced payload was kept)."""
    payloads = sorted(e.name for e in directory.iterdir()
                      if e.name.startswith("..") and e.name not in (DATA, DATA + "_tmp")
                      and e.is_dir() and not e.is_symlink())
    now = dt.datetime.now(dt.UTC)
    for name in payloads:
        replaced = _replaced_at(name, payloads)
        if name != current_stamp and replaced is not None \
                and (now - replaced).total_seconds() > GRACE_S:
            shutil.rmtree(directory / name)
    for entry in directory.iterdir():
        if not entry.name.startswith("..") and entry.is_symlink() and entry.name not in values:
            entry.unlink()
