"""Plan -> pg_hba rules. TLS only: every network rule is `hostssl` with scram-sha-256.

The only non-network rules are `local` peer rules for the OS user that runs the server
(Patroni's own connections over the environment's private socket directory).
"""

from __future__ import annotations

from dataclasses import dataclass

from billdb.internal import MONITOR_USER, REPLICATION_USER, REWIND_USER, SUPERUSER
from billdb.plan.models import Plan


@dataclass(frozen=True)
class HbaRule:
    type: str
    database: str
    user: str
    address: str
    method: str

    def line(self) -> str:
        cols = [self.type, self.database, self.user]
        if self.type != "local":
            cols.append(self.address)
        cols.append(self.method)
        return " ".join(cols)


def hba_rules(plan: Plan, env_name: str = "local") -> list[HbaRule]:
    env = getattr(plan.environments, env_name)
    db = plan.database.name
    app_users = ",".join(sorted(plan.roles.login))
    rules = [
        HbaRule("local", "all", SUPERUSER, "", "peer"),
        HbaRule("local", "replication", SUPERUSER, "", "peer"),
    ]
    for net in env.admin_networks:
        rules += [
            HbaRule("hostssl", "replication", REPLICATION_USER, net, "scram-sha-256"),
            HbaRule("hostssl", "postgres", REWIND_USER, net, "scram-sha-256"),
            HbaRule("hostssl", "all", SUPERUSER, net, "scram-sha-256"),
            # the monitoring exporters' least-privilege login (pg_monitor; monitoring/stack.py)
            HbaRule("hostssl", f"{db},postgres", MONITOR_USER, net, "scram-sha-256"),
        ]
    for client in plan.network.allowed_clients:
        rules.append(
            HbaRule("hostssl", db, app_users, env.client_networks[client], "scram-sha-256")
        )
    return rules


def hba_lines(plan: Plan, env_name: str = "local") -> list[str]:
    return [r.line() for r in hba_rules(plan, env_name)]
