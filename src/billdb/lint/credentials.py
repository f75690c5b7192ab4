"""Credentials written into text: passwords, keys, tokens, URIs with a password."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERNS = [
    ("SQL password literal", re.compile(r"\bPASSWORD\s+'((?:[^']|'')+)'", re.IGNORECASE)),
    ("password in a URI", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"]+)@",
                                     re.IGNORECASE)),
    ("assignment", re.compile(
        r"(?<![\w.-])([A-Za-z_][\w.-]*(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key"
        r"|access[_-]?key|account[_-]?key|passphrase)[\w-]*)\s*[:=]\s*"
        r"(\"[^\"]*\"|'[^']*'|[^\s,#;]+)", re.IGNORECASE)),
    ("command-line password", re.compile(
        r"(--(?:admin-)?password|--passphrase)[ =](\"[^\"]*\"|'[^']*'|[^\s\\]+)")),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----()")),
    ("SAS signature", re.compile(r"[?&]sig=([A-Za-z0-9%+/=]{16,})")),
]
_NOT_SECRET_KEYS = re.compile(r"(password_encryption|password[_-]auth|passfile|_file|_path)$",
                              re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^(\$|<|\{\{|%\(|:|\*+$|x+$|\.\.\.|changeme$|none$|null$|true$"
                          r"|false$|enabled$|disabled$|scram-sha-256$|md5$|required$)",
                          re.IGNORECASE)


@dataclass(frozen=True)
class Hit:
    kind: str
    line: int
    what: str  # the key or construct, never the secret itself


def _value(raw: str) -> str:
    return raw.strip().strip("\"'")


def scan(lines: list[tuple[int, str]]) -> list[Hit]:
    """Lines that hold a literal credential. The secret is never copied into the hit."""
    hits: list[Hit] = []
    for number, text in lines:
        for kind, pattern in _PATTERNS:
            for m in pattern.finditer(text):
                if kind in ("assignment", "command-line password"):
                    key, value = m.group(1), _value(m.group(2))
                    if _NOT_SECRET_KEYS.search(key) or not value or _PLACEHOLDER.match(value):
                        continue
                    what = key
                elif kind == "private key":
                    what = "PEM private key"
                else:
                    value = _value(m.group(1))
                    if _PLACEHOLDER.match(value):
                        continue
                    what = kind
                hits.append(Hit(kind, number, what))
                break
            else:
                continue
            break
    return hits
