"""etcd, the consensus store Patroni keeps its leader lock in (single member, loopback)."""

from __future__ import annotations

from billdb.engines import process
from billdb.engines.http import HttpError, request
from billdb.layout import Layout
from billdb.plan.models import LocalEnvironment
from billdb.retry import wait_until


def service(env: LocalEnvironment, layout: Layout) -> process.Service:
    d = layout.etcd_dir
    client = f"http://127.0.0.1:{env.etcd.client_port}"
    peer = f"http://127.0.0.1:{env.etcd.peer_port}"
    return process.Service(
        name="etcd",
        argv=[
            "/usr/bin/etcd", "--name", "billdb", "--logger", "zap", "--log-level", "warn",
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"billdb={peer}", "--initial-cluster-state", "new",
            "--data-dir", str(d / "data"),
        ],
        pidfile=d / "etcd.pid",
        logfile=d / "etcd.log",
        user=env.os_user,
        supervisor=layout.supervisor_dir,
        priority=100,  # first up, last down: Patroni holds its leader key here
    )


def healthy(env: LocalEnvironment) -> bool:
    try:
        status, body = request("GET", f"http://127.0.0.1:{env.etcd.client_port}/health", timeout=2)
    except HttpError:
        return False
    return status == 200 and isinstance(body, dict) and body.get("health") == "true"


def wait_healthy(env: LocalEnvironment, timeout: float = 30) -> bool:
    return wait_until(lambda: healthy(env), timeout, 0.2)


def get(env: LocalEnvironment, key: str, timeout: float = 2.0) -> str | None:
    """The value of `key` (etcd v3 JSON gateway), None when absent; HttpError when unreachable."""
    import base64

    status, body = request("POST", f"http://127.0.0.1:{env.etcd.client_port}/v3/kv/range",
                           {"key": base64.b64encode(key.encode()).decode()}, timeout=timeout)
    if status != 200 or not isinstance(body, dict):
        raise HttpError(status, str(body))
    kvs = body.get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None
