"""What Azure Database for PostgreSQL flexible server allows, from billdb/data (with sources)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def limits() -> dict:
    text = resources.files("billdb.data").joinpath("azure_flexible_server.json").read_text(
        "utf-8")
    return json.loads(text)


def is_server_parameter(name: str, known_to_postgres: bool) -> bool:
    """A name `az postgres flexible-server parameter set` accepts: a PostgreSQL setting or
    one of Azure's own (azure.*, pgbouncer.*, metrics.*, ...)."""
    lim = limits()
    return (known_to_postgres or name in lim["pgbouncer_parameters"]
            or name.split(".")[0] in ("azure", "pgbouncer", "metrics", "pgms_wait_sampling",
                                      "pg_qs", "intelligent_tuning", "require_secure_transport")
            or name == "require_secure_transport")
