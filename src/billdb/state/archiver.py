"""WAL archiving as the primary sees it (pg_stat_archiver) and the segment it writes now, read
by name. With asynchronous archiving this cannot tell the repositories apart (see
ops.backup.archive_state): `verify`, `status` and restore's archive wait read it here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from billdb import sql as sqlfiles


@dataclass(frozen=True)
class ArchiverState:
    """The row of sql/backup/archiver.sql."""

    archived_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None
    healthy: bool  # no failure since the last success
    current_wal: str
    now: datetime

    def archived_through(self, segment: str) -> bool:
        """The last archived segment is `segment` or later (same timeline: log + segment)."""
        last = self.last_archived_wal
        return bool(last) and last[8:] >= segment[8:]


def read(conn: psycopg.Connection) -> ArchiverState:
    cur = conn.cursor(row_factory=class_row(ArchiverState))
    row = cur.execute(sqlfiles.load("backup/archiver")).fetchone()
    if row is None:  # pg_stat_archiver always has its one row
        raise RuntimeError("pg_stat_archiver returned no row")
    return row
