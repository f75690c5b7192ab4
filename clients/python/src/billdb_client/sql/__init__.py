"""The repository's SQL, one statement per .sql file, loaded by name."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of `<name>.sql` (e.g. 'request_get')."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
