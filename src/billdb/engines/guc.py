"""What a PostgreSQL major version says of its own parameters, without a running server.

`postgres --describe-config` prints every built-in parameter with its context (the column
pg_settings.context shows on a live server): `postmaster` means a change takes a restart.
This is the server's own catalogue, so nothing keeps a hand list of restart parameters; a
live server is still asked through pg_settings (state.pgvalues), and Azure through
isDynamicConfig/isConfigPendingRestart (azure.apply). Parameters of extensions and of the
platform (pgaudit.*, pgbouncer.*, azure.*) are not in it: their context is unknown here.
"""

from __future__ import annotations

import functools

from billdb.engines import process, tools
from billdb.errors import StepError


@functools.cache
def contexts(major: int) -> dict[str, str]:
    """Parameter name -> context for PostgreSQL `major`, or {} when its binaries are not on
    this machine (an Azure-only workstation): callers then say the need is unknown."""
    bin_dir = tools.postgres_bin(major)
    if bin_dir is None:
        return {}
    try:
        res = process.run([str(bin_dir / "postgres"), "--describe-config"],
                          step="postgres --describe-config", timeout=30)
    except StepError:
        return {}
    out = {}
    for line in res.stdout.splitlines():
        name, _, rest = line.partition("\t")
        if rest:
            out[name.lower()] = rest.split("\t", 1)[0]
    return out


def needs_restart(major: int, name: str) -> bool | None:
    """True when changing `name` takes a restart on `major`, False when it does not, None
    when this machine cannot tell (no binaries, or not a built-in parameter)."""
    context = contexts(major).get(name.lower())
    return None if context is None else context == "postmaster"
