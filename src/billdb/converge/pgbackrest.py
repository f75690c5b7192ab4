"""pgBackRest's configuration (§9.1 backup, §10.2 backup encryption).

desired: `render.pgbackrest.options`, every option of pgbackrest.conf, typed, by section (the
         file is written from them); the archive_command that feeds it is the parameters
         resource's (`render.pgbackrest.member_parameters`).
observe: the file on disk (its options and mode) and each repository's cipher as
         `pgbackrest info --output=json` reports it (the caller's answer, read once).
checks:  `backup.config` (every option as planned, nothing else, mode 0640: a passphrase is
         named, never shown), `backup.repo<N>.encrypted` (info's cipher is the planned
         `repo<N>-cipher-type`).
apply:   write pgbackrest.conf, 0640 owned by the servers' OS user (up's `backup storage`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billdb.converge.core import Check
from billdb.fsutil import write_atomic
from billdb.layout import Layout
from billdb.plan.models import Plan
from billdb.render.pgbackrest import Option, RepoSecrets, conf_text, options

S = "§9.1 backup"
S_CIPHER = "§10.2 backup encryption"
MODE = 0o640  # it holds the passphrases
_CIPHER_KEY = re.compile(r"repo(\d+)-cipher-type")


@dataclass(frozen=True)
class Observed:
    """The config file's options (None: no file), its mode, and info's cipher per repo."""

    options: list[Option] | None
    mode: int | None
    repo_ciphers: dict[int, str | None]


def desired(plan: Plan, layout: Layout, secrets: RepoSecrets) -> list[Option]:
    """Pure: the secrets are passed in."""
    return options(plan, layout, secrets)


def parse(text: str) -> list[Option]:
    """pgbackrest.conf's options: `key=value` under `[section]`, comments and blanks skipped."""
    out, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line:
            key, _, value = line.partition("=")
            out.append(Option(section, key.strip(), value.strip()))
    return out


def observe(path: Path, stanza_info: Mapping[str, Any]) -> Observed:
    try:
        text = path.read_text(encoding="utf-8")
        mode: int | None = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        text, mode = None, None
    ciphers = {int(r["key"]): r.get("cipher") for r in stanza_info.get("repo", [])
               if "key" in r}
    return Observed(parse(text) if text is not None else None, mode, ciphers)


def _differing(want: list[Option], have: list[Option]) -> list[str]:
    """The options (section/key) that are missing, extra or of another value."""
    w = {(o.section, o.key): o.text for o in want}
    h = {(o.section, o.key): o.text for o in have}
    return [f"{s}/{k}" for s, k in sorted(w.keys() | h.keys()) if w.get((s, k)) != h.get((s, k))]


def config_check(want: list[Option], found: Observed) -> Check:
    mode = oct(found.mode) if found.mode is not None else None
    if found.options is None:
        what, same = "missing", False
    else:
        bad = _differing(want, found.options)
        what, same = ("as planned" if not bad else "differs: " + ", ".join(bad)), not bad
    return Check("backup.config", S, f"pgbackrest.conf as the plan renders it, mode {oct(MODE)}",
                 f"{what}, mode {mode}", same and found.mode == MODE)


def repo_checks(want: list[Option], found: Observed) -> list[Check]:
    out = []
    for o in want:
        if (m := _CIPHER_KEY.fullmatch(o.key)) is None:
            continue
        repo = int(m.group(1))
        have = found.repo_ciphers.get(repo)
        out.append(Check(f"backup.repo{repo}.encrypted", S_CIPHER, o.value, have,
                         have == o.value))
    return out


def checks(want: list[Option], found: Observed) -> list[Check]:
    return [config_check(want, found), *repo_checks(want, found)]


def apply(path: Path, want: list[Option], uid: int, gid: int) -> bool:
    """Write the file when it differs; True when it changed."""
    return write_atomic(path, conf_text(want), MODE, uid, gid)
