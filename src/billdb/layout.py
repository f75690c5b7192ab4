"""Where an environment keeps its files. Pure path arithmetic, no I/O.

<state_dir>/
  secrets/      0700 root: secrets.json and pgpass (0600), never in git;
                secret-volume/ the service's Secret as a pod mounts it (billdb.secret_volume)
  tls/          ca.crt (public), ca.key (root 0600), server.crt, server.key (postgres 0600)
  run/          unix sockets (private to this environment)
  supervisor/   supervisord.conf, programs/*.conf, supervisor.sock, supervisord.log
  etcd/         data/, etcd.log
  members/NAME/ data/, patroni.yml (postgres 0600), patroni.log, pg_log/
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MemberPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "patroni.yml"

    @property
    def log(self) -> Path:
        return self.root / "patroni.log"

    @property
    def pidfile(self) -> Path:
        return self.root / "patroni.pid"

    @property
    def pg_log_dir(self) -> Path:
        return self.root / "pg_log"

    @property
    def pgpass(self) -> Path:
        return self.root / "patroni.pgpass"


@dataclass(frozen=True)
class Layout:
    state_dir: Path

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def secrets_file(self) -> Path:
        return self.secrets_dir / "secrets.json"

    @property
    def pgpass(self) -> Path:
        return self.secrets_dir / "pgpass"

    @property
    def secret_volume(self) -> Path:
        """The service's Kubernetes Secret, laid out as its mounted volume (0700)."""
        return self.secrets_dir / "secret-volume"

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.tls_dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.tls_dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.tls_dir / "server.key"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def supervisor_dir(self) -> Path:
        """supervisord's config, programs/, socket and log (engines/supervisor.py)."""
        return self.state_dir / "supervisor"

    @property
    def etcd_dir(self) -> Path:
        return self.state_dir / "etcd"

    @property
    def dr_file(self) -> Path:
        """Present while the read replica runs as the promoted primary (after `drill dr`)."""
        return self.state_dir / "dr.json"

    @property
    def routes_file(self) -> Path:
        return self.state_dir / "routes.json"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def member(self, name: str) -> MemberPaths:
        return MemberPaths(self.state_dir / "members" / name)
