"""Plan -> pgbackrest.conf and the archive_command that feeds it. Pure: no I/O.

One stanza lists every member as pg1..pgN, so a backup can be taken from a standby
(`backup-standby`) and WAL archiving keeps working on whichever member is primary after a
failover. Both repositories are encrypted (AES-256-CBC, pgBackRest's only cipher) with
generated passphrases and keep full backups by time (the plan's retention_days).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from billdb.backup_layout import BackupLayout
from billdb.layout import Layout
from billdb.plan.models import Plan
from billdb.render.bounds import disk_bounds

CIPHER = {"aes-256": "aes-256-cbc"}
AZURE_ACCOUNT = "billdb"
AZURE_HOST = "localhost"  # pgBackRest 2.45 does not match IP addresses in certificates


@dataclass(frozen=True)
class RepoSecrets:
    """Generated secrets the config must hold (the file is therefore postgres 0640)."""

    repo1_cipher_pass: str
    repo2_cipher_pass: str
    azure_key: str = ""


def stanza(plan: Plan) -> str:
    """The stanza is named after the cluster (Patroni's scope)."""
    return plan.environments.local.patroni.scope


def azure_container(plan: Plan) -> str:
    return f"{stanza(plan)}-backup"


def config_path(plan: Plan) -> str:
    layout = Layout(Path(plan.environments.local.state_dir))
    return str(BackupLayout(layout).config)


def member_options(layout: Layout, member: str) -> str:
    """The options that make a member's archive-push and archive-get its own.

    archive-push insists that pg1-path is the member's data directory. The spool and lock
    paths are the member's too: the members share one host here (on separate servers each
    has its own), and pgBackRest keys its asynchronous queue and its archive lock by stanza
    only. With one spool and one lock, a standby's archive-get and the primary's push waited
    on each other's `<stanza>-archive.lock`, and a new primary read the old one's queue.
    """
    paths = BackupLayout(layout)
    return (f"--spool-path={paths.member_spool(member)} "
            f"--lock-path={paths.member_lock(member)} --pg1-path={layout.member(member).data}")


def archive_command(plan: Plan, layout: Layout | None = None, member: str | None = None) -> str:
    """`--config` always: Debian's /etc/pgbackrest.conf would be used silently otherwise.

    The primary can be any member after a failover: each member's own Patroni config names
    its directories (`member_parameters`). The cluster-wide form, without a member, only
    stands in the DCS, where every member's local value overrides it.
    """
    where = member_options(layout, member) if layout and member else "--pg1-path=$PWD"
    return (f"pgbackrest --config={config_path(plan)} --stanza={stanza(plan)} "
            f"{where} archive-push %p")


def restore_command(plan: Plan, layout: Layout, member: str) -> str:
    """A standby fetches WAL the primary no longer keeps from the archive (repo1, then
    repo2), so a rewound or lagging member catches up instead of waiting forever. Always
    synchronous (`pgbackrest_conf`): one segment per call, no queue shared with anyone."""
    return (f"pgbackrest --config={config_path(plan)} --stanza={stanza(plan)} "
            f'{member_options(layout, member)} archive-get %f "%p"')


def member_parameters(plan: Plan, layout: Layout, member_name: str) -> dict[str, str]:
    """The per-member settings, in that member's local Patroni config (they override the
    DCS): verify expects these on the member instead of the cluster-wide value."""
    return {"archive_command": archive_command(plan, layout, member_name)}


@dataclass(frozen=True)
class Option:
    """One pgbackrest.conf option in its section ("global", or the stanza's name)."""

    section: str
    key: str
    value: str | int

    @property
    def text(self) -> str:
        return str(self.value)

    @property
    def secret(self) -> bool:
        """A passphrase or a storage key: never shown, only compared."""
        return self.key.endswith(("-cipher-pass", "-azure-key"))


def _geo_repo(plan: Plan, layout: Layout, secrets: RepoSecrets) -> list[tuple[str, str | int]]:
    """repo2, the geo copy: Azurite's blob storage (Azure's protocol) or a second directory."""
    env = plan.environments.local
    if env.backup.geo_repo == "azurite":
        return [
            ("repo2-type", "azure"),
            ("repo2-path", "/"),
            ("repo2-azure-account", AZURE_ACCOUNT),
            ("repo2-azure-key", secrets.azure_key),
            ("repo2-azure-container", azure_container(plan)),
            ("repo2-azure-uri-style", "path"),
            ("repo2-storage-host", AZURE_HOST),
            ("repo2-storage-port", env.backup.azurite_port),
            ("repo2-storage-ca-file", str(layout.ca_cert)),
            ("repo2-bundle", "y"),  # one PUT per file makes unbundled backups slow on blob storage
        ]
    return [("repo2-path", str(BackupLayout(layout).geo_dir))]


def options(plan: Plan, layout: Layout, secrets: RepoSecrets) -> list[Option]:
    """Every option of pgbackrest.conf, in file order: what `up` writes and `verify` expects."""
    env = plan.environments.local
    b = plan.backup
    paths = BackupLayout(layout)
    cipher = CIPHER[plan.security.backup_encryption]
    glob: list[tuple[str, str | int]] = [
        ("repo1-path", str(paths.repo1)),
        ("repo1-cipher-type", cipher),
        ("repo1-cipher-pass", secrets.repo1_cipher_pass),
        ("repo1-retention-full-type", "time"),
        ("repo1-retention-full", b.retention_days),
    ]
    glob += _geo_repo(plan, layout, secrets)
    glob += [
        ("repo2-cipher-type", cipher),
        ("repo2-cipher-pass", secrets.repo2_cipher_pass),
        ("repo2-retention-full-type", "time"),
        ("repo2-retention-full", b.retention_days),
        ("compress-type", b.compression),
        ("process-max", 2),
        ("start-fast", "y"),
        ("backup-standby", "y"),
        ("archive-timeout", 60),
        ("io-timeout", 10),  # an unreachable repository fails in ~80 s, not ~4 min
        ("log-path", str(paths.log_dir)),
        ("spool-path", str(paths.spool_dir)),
        ("lock-path", str(paths.lock_dir)),
        ("log-level-console", "warn"),
        ("log-level-file", "info"),
    ]
    # Asynchronous push: a repository that does not answer does not hold the others back
    # (a synchronous push to an unreachable repo2 hung for minutes and repo1 got nothing).
    # Past the queue bound pgBackRest drops the queue instead of letting pg_wal fill the disk
    # (render/bounds.py); the exporter reports the drop. Only the push: `archive-async` in
    # [global] makes archive-get prefetch into a queue too, and a standby then waited up to
    # archive-timeout on it.
    push = [("archive-async", "y"),
            ("archive-push-queue-max", f"{disk_bounds(plan).wal_keep_mb}MB")]
    members: list[tuple[str, str | int]] = []
    for i, m in enumerate(env.members, start=1):
        members += [
            (f"pg{i}-path", str(layout.member(m.name).data)),
            (f"pg{i}-port", m.port),
            (f"pg{i}-socket-path", str(layout.run_dir)),
        ]
    return ([Option("global", k, v) for k, v in glob]
            + [Option("global:archive-push", k, v) for k, v in push]
            + [Option(stanza(plan), k, v) for k, v in members])


def conf_text(opts: list[Option]) -> str:
    """pgbackrest.conf: each section's options under its header, sections in first-seen order."""
    lines = ["# Written by `billdb up` from the plan (§9.1 backup). Holds secrets: postgres 0640."]
    sections = list(dict.fromkeys(o.section for o in opts))
    for n, section in enumerate(sections):
        lines += [*([""] if n else []), f"[{section}]"]
        lines += [f"{o.key}={o.text}" for o in opts if o.section == section]
    return "\n".join(lines) + "\n"


def pgbackrest_conf(plan: Plan, layout: Layout, secrets: RepoSecrets) -> str:
    return conf_text(options(plan, layout, secrets))
