"""Where each route points: the stand-in for the service's DNS / datasource configuration.

`billdb up` writes `<state_dir>/routes.json`; the DR drill repoints it after promoting the
read replica. Clients reread it when their connections fail, as an application would pick
up a changed DNS record.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Routes:
    write: list[int]  # ports tried in order; libpq keeps the read-write one
    read: list[int]  # the read replica(s); reads fall back to the write route

    @classmethod
    def load(cls, path: Path) -> Routes:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(write=list(data["write"]), read=list(data["read"]))

    def save(self, path: Path) -> bool:
        """Write atomically; True when the content changed."""
        text = json.dumps(asdict(self), indent=2) + "\n"
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except OSError:
            pass
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # readers see the old or the new file, never half of one
        return True
