"""The pg_hba rules a member has in force (pg_hba_file_rules), read by name. `verify` holds
them to the plan's networks, the audit to CIS §5; both read them here."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from billdb import sql as sqlfiles


@dataclass(frozen=True)
class HbaRule:
    """A row of pg_hba_file_rules."""

    line_number: int
    type: str  # local, host, hostssl, hostnossl, ...
    database: list[str]
    user_name: list[str]
    address: str | None
    netmask: str | None
    auth_method: str
    error: str | None

    @property
    def where(self) -> str:
        return f"line {self.line_number}"

    @property
    def network(self) -> str | None:
        """The rule's address with its mask as one CIDR text, as pg_hba.conf may write it."""
        if not self.address:
            return None
        return f"{self.address}/{self.netmask}" if self.netmask else self.address


def read(conn: psycopg.Connection) -> list[HbaRule]:
    cur = conn.cursor(row_factory=class_row(HbaRule))
    return cur.execute(sqlfiles.load("verify/hba")).fetchall()
