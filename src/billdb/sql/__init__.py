"""SQL lives in .sql files beside this module, loaded by name."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of `<name>.sql` (e.g. 'verify/parameters')."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def load_for(name: str, major: int) -> str:
    """SQL that differs between PostgreSQL versions (pg_activity's way): the newest
    `<name>@<N>.sql` with N <= major, else `<name>.sql`. `monitoring/checkpoints@17` is read
    from PostgreSQL 17 on, for instance, where pg_stat_checkpointer took pg_stat_bgwriter's
    checkpoint columns."""
    folder, _, stem = name.rpartition("/")
    here = resources.files(__package__).joinpath(folder) if folder else resources.files(__package__)
    versions = []
    for entry in here.iterdir():
        base, at, since = entry.name.removesuffix(".sql").partition("@")
        if base == stem and at and since.isdigit() and int(since) <= major:
            versions.append(int(since))
    return load(f"{name}@{max(versions)}") if versions else load(name)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration, in order. Files are V<NNN>__<name>.sql."""
    out = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        fname = entry.name
        if fname.startswith("V") and fname.endswith(".sql"):
            version, _, rest = fname[1:-4].partition("__")
            out.append((int(version), rest, entry.read_text(encoding="utf-8")))
    return sorted(out)
