"""The client's configuration: where each route leads and how the pools behave, read from a
connection profile (billdb_client.profile), never from the plan; no password inside."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

from billdb_client import profile
from billdb_client.routes import Routes


@dataclass(frozen=True)
class ClientConfig:
    """Everything a service instance needs to reach the database; no password inside."""

    dbname: str
    write_user: str
    read_user: str
    sslrootcert: str
    passfile: str
    routes_file: str
    pool_size: int = 15
    connection_timeout_s: float = 30
    # How long the server may take to answer one statement or batch; with the connection
    # timeout it makes every call's deadline (call_deadline_s).
    statement_timeout_s: float = 30
    idle_timeout_s: float = 600
    max_lifetime_s: float = 1800
    max_lag_bytes: int = 16 * 1024 * 1024
    application_name: str = "bill-inquiry"
    read_retries: int = 3
    min_size: int = 1
    extra: dict[str, str] = field(default_factory=dict)
    # Through PgBouncer (transaction mode): every pool connects to the pooler, which follows the
    # primary and maps `pooler_read_dbname` to the read replica. Server-side prepared
    # statements only when the pooler carries them (`pooler_prepares`: PgBouncer 1.21+ with
    # max_prepared_statements, as Azure's and the local one).
    pooler_port: int | None = None
    pooler_read_dbname: str | None = None
    pooler_prepares: bool = False

    # Encrypted column -> the column binding its values to their row (from the profile).
    encrypted_columns: dict[str, str] = field(default_factory=dict)
    # The routes when no routes file is given (a profile for another environment): one host
    # for every port, as the profile's routes name them.
    host: str = "127.0.0.1"
    route_ports: dict[str, list[int]] = field(default_factory=dict)

    def load_routes(self) -> Routes:
        """The routes file when there is one (DR repoints it), else the profile's routes."""
        if self.routes_file:
            return Routes.load(Path(self.routes_file))
        return Routes(write=list(self.route_ports.get("write", [])),
                      read=list(self.route_ports.get("read", [])))

    @classmethod
    def from_profile(cls, path: str | Path, through_pooler: bool | None = None,
                     **overrides: Any) -> ClientConfig:
        """The configuration of a connection profile (`billdb app-config --format
        client-json`); `through_pooler` overrides the profile's choice."""
        return cls.from_dict(profile.load(path), through_pooler, **overrides)

    @classmethod
    def from_dict(cls, doc: dict[str, Any], through_pooler: bool | None = None,
                  **overrides: Any) -> ClientConfig:
        """The configuration of a checked profile document (`profile.check`)."""
        pool = doc["pool"]
        cfg = cls(
            dbname=doc["dbname"], write_user=doc["roles"]["write"],
            read_user=doc["roles"]["read"], sslrootcert=doc["sslrootcert"],
            passfile=doc.get("passfile") or "", routes_file=doc.get("routes_file") or "",
            pool_size=pool["size"], connection_timeout_s=pool["connection_timeout_s"],
            statement_timeout_s=pool.get("statement_timeout_s", 30),
            idle_timeout_s=pool["idle_timeout_s"], max_lifetime_s=pool["max_lifetime_s"],
            max_lag_bytes=doc["max_lag_bytes"],
            application_name=doc.get("application_name", "bill-inquiry"),
            encrypted_columns=dict(doc["encrypted_columns"]),
            host=str(doc["routes"]["write"][0][0]),
            route_ports={k: [int(p) for _, p in doc["routes"][k]] for k in ("write", "read")},
        )
        pooled = doc.get("through_pooler", False) if through_pooler is None else through_pooler
        if pooled:
            pooler = doc.get("pooler")
            if not pooler:
                raise profile.ProfileError("the profile's field 'pooler' is empty: this "
                                           "environment has no pooler")
            cfg = replace(cfg, pooler_port=int(pooler["port"]),
                          pooler_read_dbname=str(pooler["read_dbname"]),
                          pooler_prepares=bool(pooler.get("prepared_statements", False)))
        return replace(cfg, **overrides)

    @property
    def call_deadline_s(self) -> float:
        """The longest any public call may take: a connection, then the server's answer."""
        return self.connection_timeout_s + self.statement_timeout_s

    def conninfo(self, user: str, ports: list[int], attrs: str, dbname: str | None = None) -> str:
        hosts = ",".join(self.host for _ in ports)
        parts = {
            "host": hosts, "port": ",".join(str(p) for p in ports),
            "dbname": dbname or self.dbname,
            "user": user, "sslmode": "verify-full", "sslrootcert": self.sslrootcert,
            "passfile": self.passfile, "target_session_attrs": attrs, "connect_timeout": "3",
            "application_name": self.application_name, **self.extra,
        }
        return psycopg.conninfo.make_conninfo(**parts)
