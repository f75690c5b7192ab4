"""Shell blocks of a document: variable assignments and commands (continuations joined)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_ASSIGN = re.compile(r"^(?:export\s+)?([A-Za-z_]\w*)=(.*)$")
_VAR = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")


@dataclass(frozen=True)
class Command:
    argv: list[str]  # variables expanded where the block assigned them
    raw: list[str]  # as written
    line: int


def logical_lines(text: str, first_line: int) -> list[tuple[int, str]]:
    out, buf, start = [], [], None
    for n, line in enumerate(text.splitlines(), first_line):
        if start is None:
            start = n
        if line.rstrip().endswith("\\"):
            buf.append(line.rstrip()[:-1])
            continue
        buf.append(line)
        out.append((start, " ".join(buf)))
        buf, start = [], None
    if buf and start is not None:
        out.append((start, " ".join(buf)))
    return out


def parse(text: str, first_line: int) -> tuple[dict[str, str], list[Command]]:
    """(variables, commands). Unparseable lines (unbalanced quotes) are skipped."""
    env: dict[str, str] = {}
    commands: list[Command] = []
    for n, line in logical_lines(text, first_line):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if not words:
            continue
        m = _ASSIGN.match(words[0])
        if m and len(words) == 1:
            env[m.group(1)] = m.group(2)
            continue
        expanded = [_VAR.sub(lambda v: env.get(v.group(1), v.group(0)), w) for w in words]
        commands.append(Command(expanded, words, n))
    return env, commands


def option_value(argv: list[str], *names: str) -> str | None:
    """The value given to the first of `names` (`-U x`, `--user=x`, `-Ux`)."""
    for i, word in enumerate(argv):
        for name in names:
            if word == name and i + 1 < len(argv):
                return argv[i + 1]
            if name.startswith("--") and word.startswith(name + "="):
                return word.split("=", 1)[1]
            if not name.startswith("--") and word.startswith(name) and len(word) > len(name):
                return word[len(name):]
    return None
