"""A Markdown plan's `az postgres flexible-server create`, held to what Azure fixes at
creation (network mode, geo-redundant backup) and what it does not schedule (backup time)."""

from __future__ import annotations

from billdb.lint import docfacts
from billdb.lint.findings import Finding
from billdb.lint.markdown import Document
from billdb.lint.shell import Command


def findings(doc: Document, commands: list[tuple[str, Command]]) -> list[Finding]:
    """The creation findings, each at the document line it is about."""
    out: list[Finding] = []
    creates = [(s, c) for s, c in commands
               if c.argv[:4] == ["az", "postgres", "flexible-server", "create"]]
    backup_time = docfacts.first(doc, "backup_time")
    if backup_time:
        out.append(Finding(
            "azure.backup_time", "warning", backup_time.section,
            f"line {backup_time.line}: backup time {backup_time.value}: Azure chooses when "
            "its automated backups run; only the maintenance window can be scheduled",
            "drop the backup time, or schedule the maintenance window "
            "(az postgres flexible-server update --maintenance-window)", backup_time.line,
            "data"))
    if not creates:
        return out
    section, cmd = creates[0]
    private = docfacts.first(doc, "private_access")
    if private and not {"--vnet", "--subnet"} & set(cmd.argv):
        out.append(Finding(
            "azure.network_at_create", "error", section,
            f"line {cmd.line}: {private.section} asks for private access (VNet), but the "
            "create command has no --vnet/--subnet: the server is created with public "
            "access, and the network mode cannot be changed afterwards",
            "add --vnet phonebill-vnet --subnet <db subnet> --private-dns-zone "
            "<server>.private.postgres.database.azure.com (privatelink.* is the Private "
            "Endpoint zone) to the create command", cmd.line,
            "data"))
    geo = docfacts.first(doc, "geo_backup")
    if geo and "--geo-redundant-backup" not in cmd.argv:
        out.append(Finding(
            "azure.geo_backup_at_create", "error", section,
            f"line {cmd.line}: {geo.section} enables geo-redundant backup, which can only be "
            "chosen when the server is created, and the create command does not",
            "add --geo-redundant-backup Enabled to the create command", cmd.line, "data"))
    retention = docfacts.first(doc, "backup_retention")
    if retention and "--backup-retention" not in cmd.argv:
        out.append(Finding(
            "azure.backup_retention", "warning", section,
            f"line {cmd.line}: {retention.section} keeps backups {retention.value} days but "
            "the create command leaves Azure's default of 7",
            f"add --backup-retention {retention.value} to the create command", cmd.line,
            "data"))
    return out
