"""What a SQL statement does, read from its text: enough to check grants, settings, roles."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'
_ALTER_SYSTEM = re.compile(
    rf"^ALTER\s+SYSTEM\s+SET\s+({_ID}(?:\.{_ID})?)\s*(?:=|\bTO\b)\s*(.+?);?\s*$",
    re.IGNORECASE | re.DOTALL)
_CREATE_EXT = re.compile(rf"^CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?({_ID})",
                         re.IGNORECASE)
_CREATE_ROLE = re.compile(rf"^CREATE\s+(?:USER|ROLE|GROUP)\s+({_ID})", re.IGNORECASE)
_CREATE_DB = re.compile(rf"^CREATE\s+DATABASE\s+({_ID})", re.IGNORECASE)
_GRANT_ALL_IN = re.compile(
    rf"^GRANT\s+(.+?)\s+ON\s+ALL\s+(TABLES|SEQUENCES|FUNCTIONS)\s+IN\s+SCHEMA\s+({_ID})\s+TO\s+(.+?);?$",
    re.IGNORECASE | re.DOTALL)
_GRANT_SCHEMA = re.compile(
    rf"^GRANT\s+(.+?)\s+ON\s+SCHEMA\s+({_ID}(?:\s*,\s*{_ID})*)\s+TO\s+(.+?);?$",
    re.IGNORECASE | re.DOTALL)
_GRANT_ROLE = re.compile(rf"^GRANT\s+({_ID}(?:\s*,\s*{_ID})*)\s+TO\s+(.+?);?$", re.IGNORECASE)
_DEFAULT_PRIVS = re.compile(r"^ALTER\s+DEFAULT\s+PRIVILEGES\b(.*)$", re.IGNORECASE | re.DOTALL)
_PASSWORD = re.compile(r"\bPASSWORD\s+'((?:[^']|'')*)'", re.IGNORECASE)
_NON_TX = re.compile(
    r"^(?:CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM|CREATE\s+TABLESPACE|DROP\s+TABLESPACE"
    r"|VACUUM|REINDEX\s+(?:DATABASE|SYSTEM)|CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY"
    r"|CREATE\s+SUBSCRIPTION|DROP\s+SUBSCRIPTION)\b", re.IGNORECASE)
_UNSAFE = re.compile(r"\bPROGRAM\b|\blo_(?:import|export)\b|\bpg_(?:read|write)_\w*file\b"
                     r"|\bpg_terminate_backend\b|\bDROP\s+DATABASE\b", re.IGNORECASE)
_PRIV_KEYWORDS = {"select", "insert", "update", "delete", "truncate", "references", "trigger",
                  "usage", "create", "connect", "temporary", "temp", "execute", "all",
                  "privileges"}


def ident(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name.lower()


def roles_list(text: str) -> list[str]:
    text = re.split(r"\bWITH\s+GRANT\s+OPTION\b|\bGRANTED\s+BY\b", text, flags=re.I)[0]
    return [ident(r.strip()) for r in text.split(",") if r.strip()]


@dataclass(frozen=True)
class SetParameter:
    name: str
    value: str


def alter_system(sql: str) -> SetParameter | None:
    m = _ALTER_SYSTEM.match(sql.strip())
    if not m:
        return None
    value = m.group(2).strip().rstrip(";").strip()
    if value.startswith("'") and value.endswith("'"):
        value = value[1:-1]
    return SetParameter(m.group(1).replace('"', "").lower(), value)


def created_extension(sql: str) -> str | None:
    m = _CREATE_EXT.match(sql.strip())
    return ident(m.group(1)) if m else None


def created_role(sql: str) -> str | None:
    m = _CREATE_ROLE.match(sql.strip())
    return ident(m.group(1)) if m else None


def created_database(sql: str) -> str | None:
    m = _CREATE_DB.match(sql.strip())
    return ident(m.group(1)) if m else None


@dataclass(frozen=True)
class GrantAllIn:
    privileges: str
    kind: str  # tables | sequences | functions
    schema: str
    roles: list[str]


def grant_all_in_schema(sql: str) -> GrantAllIn | None:
    m = _GRANT_ALL_IN.match(sql.strip())
    if not m:
        return None
    return GrantAllIn(m.group(1).strip(), m.group(2).lower(), ident(m.group(3)),
                      roles_list(m.group(4)))


def grant_on_schema(sql: str) -> tuple[str, list[str], list[str]] | None:
    """(privileges, schemas, roles) of GRANT ... ON SCHEMA."""
    m = _GRANT_SCHEMA.match(sql.strip())
    if not m:
        return None
    schemas = [ident(s.strip()) for s in m.group(2).split(",")]
    return m.group(1).lower(), schemas, roles_list(m.group(3))


def grant_role(sql: str) -> tuple[list[str], list[str]] | None:
    """(granted roles, members) of GRANT role TO role; None for privilege grants."""
    m = _GRANT_ROLE.match(sql.strip())
    if not m or " on " in f" {sql.lower()} ":
        return None
    granted = [ident(r.strip()) for r in m.group(1).split(",")]
    if any(g in _PRIV_KEYWORDS for g in granted):
        return None
    return granted, roles_list(m.group(2))


def default_privileges(sql: str) -> tuple[str | None, str] | None:
    """(FOR ROLE target or None, the rest) of ALTER DEFAULT PRIVILEGES."""
    m = _DEFAULT_PRIVS.match(sql.strip())
    if not m:
        return None
    rest = m.group(1)
    fr = re.match(rf"\s*FOR\s+(?:ROLE|USER)\s+({_ID})", rest, re.IGNORECASE)
    return (ident(fr.group(1)) if fr else None), rest


def literal_password(sql: str) -> str | None:
    m = _PASSWORD.search(sql)
    return m.group(1) if m else None


def reloads_config(sql: str) -> bool:
    return re.search(r"\bpg_reload_conf\s*\(", sql, re.IGNORECASE) is not None


def non_transactional(sql: str) -> bool:
    return _NON_TX.match(sql.strip()) is not None


def unsafe(sql: str) -> bool:
    """Statements the lint will not run even on its throwaway server (shell, files, kills)."""
    return _UNSAFE.search(sql) is not None
