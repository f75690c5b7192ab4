"""Plan -> Patroni configuration: the DCS part (shared by all members) and each member's file.

PostgreSQL parameters and pg_hba go through Patroni, so adding a member is configuration.
Zone members may be promoted and one of them is the synchronous standby; the replica member
stands for the read replica in the other region: never promoted automatically (nofailover)
and never synchronous (nosync).
"""

from __future__ import annotations

from typing import Any

from billdb.internal import REPLICATION_USER, REWIND_USER, SUPERUSER
from billdb.layout import Layout
from billdb.plan.local_models import Member
from billdb.plan.models import Plan
from billdb.render.hba import hba_lines
from billdb.render.parameters import cluster_parameters
from billdb.render.pgbackrest import member_parameters, restore_command

NAMESPACE = "/billdb/"
LOG_FILENAME = "postgresql-%Y-%m-%d_%H%M%S.log"


def dcs_config(plan: Plan, env_name: str = "local") -> dict[str, Any]:
    """What `PATCH /config` should leave in the DCS (bootstrap uses the same)."""
    env = plan.environments.local
    zones = sum(1 for m in env.members if m.kind == "zone")
    return {
        "ttl": env.patroni.ttl,
        "loop_wait": env.patroni.loop_wait,
        "retry_timeout": env.patroni.retry_timeout,
        "maximum_lag_on_failover": 1048576,
        # A primary that loses the DCS but still reaches every member keeps running
        # (Patroni's failsafe mode): a stalled etcd no longer stops the writes.
        "failsafe_mode": True,
        "synchronous_mode": bool(plan.ha.synchronous_commit and zones >= 2),
        "synchronous_node_count": 1,
        "postgresql": {
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": cluster_parameters(plan, env_name),
        },
    }


def _postgresql(plan: Plan, layout: Layout, member: Member,
                passwords: dict[str, str]) -> dict[str, Any]:
    """patroni.yml's `postgresql` section: where the member listens and keeps its data, the
    internal roles' logins, its own parameters, recovery and the rules for rebuilding it."""
    env = plan.environments.local
    paths = layout.member(member.name)
    tls_client = {"sslmode": "verify-full", "sslrootcert": str(layout.ca_cert)}
    return {
        "listen": f"127.0.0.1:{member.port}",
        "connect_address": f"127.0.0.1:{member.port}",
        "data_dir": str(paths.data),
        "bin_dir": env.postgres_bin,
        "pgpass": str(paths.pgpass),
        "use_unix_socket": True,
        "authentication": {
            "superuser": {"username": SUPERUSER, "password": passwords[SUPERUSER]},
            "replication": {"username": REPLICATION_USER,
                            "password": passwords[REPLICATION_USER], **tls_client},
            "rewind": {"username": REWIND_USER, "password": passwords[REWIND_USER],
                       **tls_client},
        },
        "parameters": {
            "unix_socket_directories": str(layout.run_dir),
            "ssl_cert_file": str(layout.server_cert),
            "ssl_key_file": str(layout.server_key),
            "logging_collector": "on",
            "log_directory": str(paths.pg_log_dir),
            # one name per rotation, so a size rotation opens a new file and the
            # scheduler's logs.prune can cap the total (render/bounds.py)
            "log_filename": LOG_FILENAME,
            "log_truncate_on_rotation": "off",
            **member_parameters(plan, layout, member.name),
        },
        "recovery_conf": {"restore_command": restore_command(plan, layout, member.name)},
        "pg_hba": hba_lines(plan, "local"),
        "create_replica_methods": ["basebackup"],
        "basebackup": [{"checkpoint": "fast"}],
        "remove_data_directory_on_rewind_failure": True,
        "remove_data_directory_on_diverged_timelines": True,
    }


def member_config(plan: Plan, layout: Layout, member: Member, passwords: dict[str, str],
                  promoted_replica: str | None = None) -> dict[str, Any]:
    """The patroni.yml of one member. `passwords` maps internal role -> password.

    `promoted_replica` names the read replica promoted by a region failover: it may then
    lead (and the others follow it) until `billdb dr rebuild` restores the plan's roles.
    """
    env = plan.environments.local
    replica = member.kind == "replica" and member.name != promoted_replica
    return {
        "scope": env.patroni.scope,
        "namespace": NAMESPACE,
        "name": member.name,
        "log": {"level": "INFO"},
        "restapi": {
            "listen": f"127.0.0.1:{member.rest_port}",
            "connect_address": f"127.0.0.1:{member.rest_port}",
        },
        "etcd3": {"hosts": [f"{h}:{env.etcd.client_port}" for h in env.etcd.hosts()]},
        "bootstrap": {
            "dcs": dcs_config(plan),
            "initdb": [
                "data-checksums",
                {"encoding": plan.database.encoding},
                {"locale": plan.database.lc_collate},
            ],
        },
        "postgresql": _postgresql(plan, layout, member, passwords),
        "tags": {
            "nofailover": replica,
            "nosync": replica,
            "noloadbalance": False,
            "clonefrom": False,
            "site": member.site,
        },
    }
