"""etcd, the consensus store Patroni keeps its leader lock in: a cluster of `etcd.members`
(three: one per site) on loopback, member i on 127.0.0.(i+1) with the plan's two ports, so
losing one member is a non-event (docs/topology.md).

Each member runs from a config file written once, when it first starts: its initial-cluster
flags matter only then (etcd ignores them once it has data), so later runs never rewrite the
file and never restart a member for it. An environment made with one member grows by
`member add` + a start with `initial-cluster-state: existing`, one member at a time.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billdb.engines import process
from billdb.engines.http import HttpError, request
from billdb.fsutil import write_atomic
from billdb.layout import Layout
from billdb.plan.local_models import LocalEnvironment
from billdb.retry import wait_until


@dataclass(frozen=True)
class EtcdMember:
    index: int
    name: str
    host: str
    client_port: int
    peer_port: int
    directory: Path  # its config, log and pidfile

    @property
    def client_url(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"

    @property
    def data_dir(self) -> Path:
        return self.directory / ("data" if self.index == 0 else f"data-{self.index + 1}")

    @property
    def config_file(self) -> Path:
        return self.directory / f"{self.name}.yml"

    @property
    def service_name(self) -> str:
        return "etcd" if self.index == 0 else f"etcd-{self.index + 1}"

    def has_data(self) -> bool:
        return (self.data_dir / "member").is_dir()


def members(env: LocalEnvironment, layout: Layout) -> list[EtcdMember]:
    """The plan's etcd members; the first keeps the name and data of a one-member
    environment."""
    return [EtcdMember(i, "billdb" if i == 0 else f"billdb-{i + 1}", host,
                       env.etcd.client_port, env.etcd.peer_port, layout.etcd_dir)
            for i, host in enumerate(env.etcd.hosts())]


def service(env: LocalEnvironment, layout: Layout, member: EtcdMember | None = None
            ) -> process.Service:
    m = member or members(env, layout)[0]
    return process.Service(
        name=m.service_name,
        argv=["/usr/bin/etcd", "--config-file", str(m.config_file)],
        pidfile=m.directory / f"{m.service_name}.pid",
        logfile=m.directory / f"{m.service_name}.log",
        user=env.os_user,
        supervisor=layout.supervisor_dir,
        priority=100,  # first up, last down: Patroni holds its leader key here
    )


def services(env: LocalEnvironment, layout: Layout) -> list[process.Service]:
    return [service(env, layout, m) for m in members(env, layout)]


def initial_cluster(ms: list[EtcdMember]) -> str:
    return ",".join(f"{x.name}={x.peer_url}" for x in ms)


def write_config(m: EtcdMember, initial: str, state: str) -> bool:
    """The member's config file, written once (JSON is YAML); True when written now.
    `initial` is etcd's initial-cluster (name=peer URL, ...), `state` new or existing."""
    if m.config_file.exists():
        return False
    doc = {
        "name": m.name, "data-dir": str(m.data_dir),
        "listen-client-urls": m.client_url, "advertise-client-urls": m.client_url,
        "listen-peer-urls": m.peer_url, "initial-advertise-peer-urls": m.peer_url,
        "initial-cluster": initial,
        "initial-cluster-state": state, "logger": "zap", "log-level": "warn",
        # on by default on the command line, off in a config file: Patroni and billdb speak
        # to etcd through this JSON gateway
        "enable-grpc-gateway": True,
    }
    m.directory.mkdir(parents=True, exist_ok=True)
    write_atomic(m.config_file, json.dumps(doc, indent=2) + "\n", 0o644)
    return True


def _post(m: EtcdMember, path: str, body: dict[str, Any], timeout: float = 2.0
          ) -> dict[str, Any]:
    status, reply = request("POST", f"{m.client_url}{path}", body, timeout=timeout)
    if status != 200 or not isinstance(reply, dict):
        raise HttpError(status, str(reply))
    return reply


def member_list(m: EtcdMember) -> list[dict[str, Any]]:
    """The cluster's members as `m` knows them (name is "" for one added but not started)."""
    return list(_post(m, "/v3/cluster/member/list", {}).get("members") or [])


def member_add(m: EtcdMember, new: EtcdMember) -> None:
    _post(m, "/v3/cluster/member/add", {"peerURLs": [new.peer_url]}, timeout=10)


def raft_leader(env: LocalEnvironment, layout: Layout) -> EtcdMember | None:
    """The member that leads the raft group now, as the members' status says."""
    ids: dict[str, EtcdMember] = {}
    leader = None
    for m in members(env, layout):
        try:
            body = _post(m, "/v3/maintenance/status", {})
        except HttpError:
            continue
        ids[str(body.get("header", {}).get("member_id"))] = m
        leader = str(body.get("leader"))
    return ids.get(leader) if leader else None


def member_healthy(m: EtcdMember) -> bool:
    try:
        status, body = request("GET", f"{m.client_url}/health", timeout=2)
    except HttpError:
        return False
    return status == 200 and isinstance(body, dict) and body.get("health") == "true"


def healthy(env: LocalEnvironment, layout: Layout) -> bool:
    """The store serves: some member answers healthy (etcd says so only with a leader, that is
    with a quorum)."""
    return any(member_healthy(m) for m in members(env, layout))


def wait_healthy(env: LocalEnvironment, layout: Layout, timeout: float = 30) -> bool:
    return wait_until(lambda: healthy(env, layout), timeout, 0.2)


def get(env: LocalEnvironment, layout: Layout, key: str, timeout: float = 2.0) -> str | None:
    """The value of `key` (etcd v3 JSON gateway), None when absent; HttpError when no member
    answers."""
    last: HttpError | None = None
    for url in (m.client_url for m in members(env, layout)):
        try:
            status, body = request("POST", f"{url}/v3/kv/range",
                                   {"key": base64.b64encode(key.encode()).decode()},
                                   timeout=timeout)
        except HttpError as exc:
            last = exc
            continue
        if status != 200 or not isinstance(body, dict):
            last = HttpError(status, str(body))
            continue
        kvs = body.get("kvs") or []
        return base64.b64decode(kvs[0]["value"]).decode() if kvs else None
    raise last or HttpError(0, "no etcd member")
