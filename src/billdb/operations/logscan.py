"""The servers' own logs since the last checklist run: slow statements and errors by kind.

Reading resumes at the byte offset each file had at the last run (a file that shrank, i.e.
was rotated and truncated, is read from the start). A kind is the level and the message with
quoted names and numbers replaced, so `relation "a" does not exist` and `relation "b" ...`
are one kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LEVEL = re.compile(r"\b(ERROR|FATAL|PANIC):\s+(.*)$")
DURATION = re.compile(r"\bLOG:\s+duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*): (.*)$")
_QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'')
_NUMBER = re.compile(r"\b\d+(\.\d+)?\b")


def kind(level: str, message: str) -> str:
    text = _NUMBER.sub("N", _QUOTED.sub('"…"', message.strip())).rstrip(":. ")
    return f"{level}: {text[:160]}"


@dataclass
class Scan:
    errors: dict[str, int] = field(default_factory=dict)
    slow: list[tuple[float, str]] = field(default_factory=list)
    lines: int = 0
    offsets: dict[str, int] = field(default_factory=dict)


def scan(files: list[Path], offsets: dict[str, int]) -> Scan:
    out = Scan()
    for f in files:
        size = f.stat().st_size
        start = offsets.get(str(f), 0)
        start = 0 if start > size else start
        with f.open("rb") as fh:
            fh.seek(start)
            data = fh.read(size - start)
        out.offsets[str(f)] = size
        for raw in data.decode("utf-8", "replace").splitlines():
            out.lines += 1
            if m := DURATION.search(raw):
                out.slow.append((float(m.group(1)), m.group(2)[:200]))
            elif m := LEVEL.search(raw):
                k = kind(m.group(1), m.group(2))
                out.errors[k] = out.errors.get(k, 0) + 1
    out.slow.sort(reverse=True)
    return out
