"""Backups (§9.1): pgBackRest stanza and repositories, physical backups, point-in-time
restores beside the cluster, logical dumps, the restore drill and the backup schedule."""
