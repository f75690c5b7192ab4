"""Where backups, dumps, restored copies and the scheduler keep their files. Pure paths.

<state_dir>/
  backup/         pgbackrest.conf (postgres 0640: holds the repository passphrases)
    repo1/        repo1, the main backup storage (postgres 0750)
    geo/          repo2 when the geo copy is a directory
    azurite/      repo2 when it is Azure Blob storage: data/, tls/, azurite.log, azurite.pid
    log/ spool/ lock/   pgBackRest's own (postgres); spool/NAME, lock/NAME each member's
  scheduler/      scheduler.pid, scheduler.log, state.json (last run of each job)
  dumps/          logical backups (root 0700, files 0600)
  restores/NAME/  a copy restored beside the cluster: data/, pg_log/, lock/, log/,
                  restore.json
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from billdb.layout import Layout


@dataclass(frozen=True)
class RestorePaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def pg_log(self) -> Path:
        return self.root / "pg_log"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def meta(self) -> Path:
        return self.root / "restore.json"

    @property
    def startup_log(self) -> Path:
        return self.root / "startup.log"


@dataclass(frozen=True)
class BackupLayout:
    layout: Layout

    @property
    def root(self) -> Path:
        return self.layout.state_dir / "backup"

    @property
    def config(self) -> Path:
        return self.root / "pgbackrest.conf"

    @property
    def repo1(self) -> Path:
        return self.root / "repo1"

    @property
    def geo_dir(self) -> Path:
        return self.root / "geo"

    @property
    def azurite_dir(self) -> Path:
        return self.root / "azurite"

    @property
    def azurite_data(self) -> Path:
        return self.azurite_dir / "data"

    @property
    def azurite_cert(self) -> Path:
        return self.azurite_dir / "tls" / "azurite.crt"

    @property
    def azurite_key(self) -> Path:
        return self.azurite_dir / "tls" / "azurite.key"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def spool_dir(self) -> Path:
        return self.root / "spool"

    @property
    def lock_dir(self) -> Path:
        return self.root / "lock"

    def member_spool(self, member: str) -> Path:
        """A member's own asynchronous archive-push queue (`spool/archive/<stanza>/out`):
        the members share a host here, and a shared queue would let a new primary read the
        old one's status files."""
        return self.spool_dir / member

    def member_lock(self, member: str) -> Path:
        """A member's own pgBackRest archive lock: with one lock-path a standby's WAL fetch
        and the primary's push wait on the same `<stanza>-archive.lock`."""
        return self.lock_dir / member

    @property
    def scheduler_dir(self) -> Path:
        return self.layout.state_dir / "scheduler"

    @property
    def scheduler_state(self) -> Path:
        return self.scheduler_dir / "state.json"

    @property
    def dumps_dir(self) -> Path:
        return self.layout.state_dir / "dumps"

    @property
    def restores_dir(self) -> Path:
        return self.layout.state_dir / "restores"

    def restore(self, name: str) -> RestorePaths:
        return RestorePaths(self.restores_dir / name)
