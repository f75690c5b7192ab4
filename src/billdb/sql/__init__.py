"""SQL lives in .sql files beside this module, loaded by name."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of `<name>.sql` (e.g. 'verify/parameters')."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration, in order. Files are V<NNN>__<name>.sql."""
    out = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        fname = entry.name
        if fname.startswith("V") and fname.endswith(".sql"):
            version, _, rest = fname[1:-4].partition("__")
            out.append((int(version), rest, entry.read_text(encoding="utf-8")))
    return sorted(out)
