"""Programs that scripts/install.sh puts into the project's own .tools directory rather than
on the system: Azurite (npm) and PgBouncer (built from Debian 13's source package)."""

from __future__ import annotations

from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parents[3] / ".tools"
