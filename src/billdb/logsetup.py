"""Logging for billdb's long-running processes (the scheduler, the pooler follower).

They run under supervisord, which keeps and rotates each program's stdout; so records go to
stdout, one line each, with a UTC timestamp and a level that `grep` can filter on.
"""

from __future__ import annotations

import logging
import sys
import time


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime


def configure(level: int = logging.INFO) -> None:
    """Idempotent: a second call (a test running two loops in one process) adds nothing."""
    root = logging.getLogger("billdb")
    if any(getattr(h, "_billdb", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_UTCFormatter("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: "
                                       "%(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler._billdb = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
