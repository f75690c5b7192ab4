"""A Markdown plan document: its numbered sections and its fenced code blocks, with lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from billdb.errors import BilldbError

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s|$)")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class Block:
    lang: str  # "sql", "bash", "yaml", ... ("" when the fence names none)
    text: str
    first_line: int  # document line of the block's first content line
    section: str


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    section: str


@dataclass(frozen=True)
class Document:
    path: Path
    lines: list[Line]
    blocks: list[Block]

    def prose(self) -> list[Line]:
        """Lines outside fenced blocks (tables, lists, paragraphs)."""
        inside: set[int] = set()
        for b in self.blocks:
            inside.update(range(b.first_line - 1, b.first_line + b.text.count("\n") + 1))
        return [ln for ln in self.lines if ln.number not in inside]


def section_of(title: str, fallback: str) -> str:
    m = _NUMBER.match(title)
    return f"§{m.group(1)}" if m else fallback


def parse(path: Path) -> Document:
    try:
        raw = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BilldbError(f"{path}: cannot read the document: {exc}") from None
    lines, blocks = [], []
    section = "§0"
    fence: tuple[str, str, int] | None = None  # (marker, lang, first content line)
    body: list[str] = []
    for n, text in enumerate(raw, 1):
        if fence:
            marker = fence[0]
            if text.strip().startswith(marker[0] * len(marker)) and not text.strip().strip(
                    marker[0]):
                blocks.append(Block(fence[1], "\n".join(body), fence[2], section))
                fence, body = None, []
            else:
                body.append(text)
            lines.append(Line(n, text, section))
            continue
        m = _FENCE.match(text)
        if m:
            fence, body = (m.group(2), m.group(3).lower(), n + 1), []
        else:
            h = _HEADING.match(text)
            if h:
                section = section_of(h.group(2), section)
        lines.append(Line(n, text, section))
    if fence:
        raise BilldbError(f"{path}:{fence[2] - 1}: a fenced code block is never closed")
    return Document(path, lines, blocks)


def has_plan_content(doc: Document) -> bool:
    """A plan document has numbered sections or SQL; a README or a note has neither."""
    return any(b.lang == "sql" for b in doc.blocks) or any(
        ln.section != "§0" for ln in doc.lines)
