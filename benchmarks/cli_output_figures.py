"""Issue 20's before/after figures: how many reporting commands show a Python repr in their text
output, and how many distinct time formats they print (text and --json).

    .venv/bin/python benchmarks/cli_output_figures.py SRC_DIR PLAN

SRC_DIR is a source tree of billdb (a clone, or `git archive COMMIT src | tar -x -C DIR`), run
with this venv's Python against the live environment of PLAN. A shape is a time with its digits
masked (fractions as .f); `by_output_and_zone` also tells text from JSON and UTC from a local
offset. Runs `checklist daily` (stores a run on code without --dry-run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

COMMANDS = [["status"], ["verify"], ["backup", "list"], ["backup", "schedule"],
            ["restore", "list"], ["dump", "list"], ["alerts"], ["incidents"],
            ["report", "slow-queries"], ["report", "database"], ["report", "tables"],
            ["report", "unused-indexes"], ["report", "connections"], ["checklist", "history"],
            ["checklist", "daily"], ["keys", "status"], ["pooler", "status"],
            ["partitions", "list"], ["audit", "security"], ["cost"]]
PYTHON = re.compile(r"\{'|'\}|\[\(|\(\('|\bNone\b|\bTrue\b|\bFalse\b|datetime\.|timedelta\(")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                  r"(?:Z|[+-]\d{2}(?::?\d{2})?)?")


def run(src: str, args: list[str]) -> str:
    code = (f"import sys; sys.path.insert(0, {src + '/src'!r}); sys.argv = ['billdb'] + "
            f"{args!r}; from billdb.cli.main import main; main()")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "COLUMNS": "200"})
    return res.stdout + res.stderr


def zone_of(t: str) -> str:
    if t.endswith(("Z", "+00:00", "+00")):
        return "UTC"
    return "local" if re.search(r"[+-]\d{2}(:?\d{2})?$", t) else "no zone"


def main(src: str, plan: str) -> dict:
    reprs: list[str] = []
    shapes: dict[str, str] = {}
    zoned: dict[str, str] = {}
    for c in COMMANDS:
        for as_json in (False, True):
            out = run(src, ["--plan", plan, *c, *(["--json"] if as_json else [])])
            where = " ".join(c) + (" --json" if as_json else "")
            found = PYTHON.search(out)
            if not as_json and found:
                reprs.append(f"{where}: {found.group(0)}")
            for m in TIME.finditer(out):
                shape = re.sub(r"\.d+", ".f", re.sub(r"\d", "d", m.group(0)))
                shapes.setdefault(shape, where)
                kind = "json" if as_json else "text"
                zoned.setdefault(f"{kind} {shape} {zone_of(m.group(0))}", where)
    return {"commands": len(COMMANDS), "commands_with_python_repr": len(reprs), "which": reprs,
            "distinct_time_formats": len(shapes), "formats": shapes,
            "by_output_and_zone": len(zoned), "zoned": zoned}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
