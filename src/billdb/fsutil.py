"""The one way billdb writes a config or a secret: atomically, never readable by the wrong user.

A temporary file in the same directory (so the rename stays on one file system), created
with the final mode before a byte is written (a secret is never briefly world-readable) and
given its owner before it holds anything; flushed and fsynced, renamed over the target, and
the directory fsynced, so a crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path | str, data: str | bytes, mode: int = 0o600,
                 owner: int | None = None, group: int | None = None,
                 only_if_changed: bool = True) -> bool:
    """Write `data` to `path` with `mode` (and uid `owner`, gid `group` when given); True when
    the file changed (with only_if_changed, identical content and mode write nothing)."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if only_if_changed and _same(path, raw, mode, owner, group):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        if owner is not None or group is not None:
            os.fchown(fd, -1 if owner is None else owner, -1 if group is None else group)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd != -1:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return True


def append_line(path: Path | str, line: str, mode: int = 0o600) -> None:
    """Add one line to a log (created with `mode` when new) and fsync it: a record written
    before an action survives a crash during the action."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _same(path: Path, raw: bytes, mode: int, owner: int | None, group: int | None) -> bool:
    try:
        st = path.stat()
        if (st.st_mode & 0o7777) != mode:
            return False
        if (owner is not None and st.st_uid != owner) or (group is not None and
                                                          st.st_gid != group):
            return False
        return path.read_bytes() == raw
    except OSError:
        return False


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
