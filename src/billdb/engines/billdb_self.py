"""billdb's own long-running programs (the scheduler, the exporter, the alert receiver, the
pooler's follower): the command that starts one, and a fingerprint of the code it runs.

Such a program keeps the code it loaded when it started. The fingerprint goes into its
supervised program's environment, so after billdb is updated the program's configuration
differs and `up` has supervisord restart it (found on an updated environment: the exporter
had no per-repository archive metrics, so the archive alert could not fire).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from billdb.engines.tools import venv_script

PACKAGE = Path(__file__).resolve().parents[1]


def command(plan_path: Path, *args: str) -> list[str]:
    """`billdb --plan <plan> <args>`, run by the venv this billdb runs from."""
    return [str(venv_script("billdb")), "--plan", str(plan_path.resolve()), *args]


@functools.cache
def code_fingerprint() -> str:
    """Every file of the billdb package by path, size and modification time (no reading)."""
    h = hashlib.sha256()
    for f in sorted(PACKAGE.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            st = f.stat()
            h.update(f"{f.relative_to(PACKAGE)} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]


def env() -> dict[str, str]:
    """The environment entry that ties a program to the code it runs."""
    return {"BILLDB_CODE": code_fingerprint()}
