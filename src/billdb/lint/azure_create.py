"""A Markdown plan's `az postgres flexible-server create`, held to what Azure fixes at
creation (network mode, geo-redundant backup) and what it does not schedule (backup time)."""

from __future__ import annotations

from billdb.lint import docfacts
from billdb.lint.findings import Finding
from billdb.lint.markdown import Document
from billdb.lint.shell import Command

# A document fact the create command must carry: (fact, its option, finding id, severity,
# why, fix).
_LEFT_OUT = (
    ("geo_backup", "--geo-redundant-backup", "azure.geo_backup_at_create", "error",
     "{fact.section} enables geo-redundant backup, which can only be chosen when the server "
     "is created, and the create command does not",
     "add --geo-redundant-backup Enabled to the create command"),
    ("backup_retention", "--backup-retention", "azure.backup_retention", "warning",
     "{fact.section} keeps backups {fact.value} days but the create command leaves Azure's "
     "default of 7", "add --backup-retention {fact.value} to the create command"),
)


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
    for key, option, fid, severity, why, fix in _LEFT_OUT:
        fact = docfacts.first(doc, key)
        if fact and option not in cmd.argv:
            out.append(Finding(fid, severity, section,
                               f"line {cmd.line}: " + why.format(fact=fact),
                               fix.format(fact=fact), cmd.line, "data"))
    return out
