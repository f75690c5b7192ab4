"""--help that reads as prose: whole sentences (docstrings' line breaks joined, so rich wraps
them at the terminal's width) and flags shown as flags (typer 0.29 prints `--json <bool>`,
which suggests `--json true`, a value click refuses)."""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperOption

_original_display = TyperOption.display_type_rich


def _flag_display(self: TyperOption, ctx: Any) -> str | None:
    if getattr(self, "is_flag", False) and not getattr(self, "count", False):
        return None
    return _original_display(self, ctx)


def show_flags_as_flags() -> None:
    """Idempotent: a flag's type column stays empty in --help."""
    TyperOption.display_type_rich = _flag_display  # type: ignore[method-assign]


def prose(text: str | None) -> str | None:
    """Single line breaks inside a paragraph become spaces; paragraphs stay."""
    if not text:
        return text
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def tidy(command: Any) -> None:
    """Every command's and option's help in the tree, as prose."""
    command.help = prose(command.help)
    command.short_help = prose(getattr(command, "short_help", None))
    for param in getattr(command, "params", []):
        if getattr(param, "help", None):
            param.help = prose(param.help)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
