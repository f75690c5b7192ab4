"""One mechanism per job, kept that way: files are written through `fsutil`, subprocesses
run through `engines.process`, connections open through `engines.postgres`. A grep over
billdb's sources, in the manner of test_imports.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "billdb"

# (what, pattern, the modules that own the job)
RULES = (
    ("a file written outside fsutil",
     re.compile(r"""open\([^)]*["'][wax]b?\+?["']|O_TRUNC|O_APPEND|\.write_text\(|"""
                r"""\.write_bytes\("""),
     # process: a child's log handed to it, and its pidfile
     {"fsutil.py", "engines/process.py"}),
    ("a subprocess outside engines.process",
     re.compile(r"subprocess\.(run|Popen|call|check_call|check_output)\("),
     # supervisor starts supervisord itself (process imports supervisor, not back)
     {"engines/process.py", "engines/supervisor.py"}),
    ("a connection opened outside engines.postgres",
     re.compile(r"psycopg\.(connect|Connection\.connect|AsyncConnection\.connect)\("),
     {"engines/postgres.py"}),
)


def offenders(root: Path = SRC) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            for what, pattern, owners in RULES:
                if rel not in owners and pattern.search(line):
                    out.append(f"{rel}:{n}: {what}: {line.strip()}")
    return out


@pytest.mark.unit
def test_each_job_has_one_mechanism():
    assert offenders() == []


@pytest.mark.unit
def test_the_grep_sees_each_kind(tmp_path: Path):
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "x.py").write_text(
        'with open(p, "w") as fh:\n    pass\n'
        "subprocess.run(['ls'])\n"
        "conn = psycopg.connect(dsn)\n"
        "# subprocess.run(['commented'])\n", encoding="utf-8")
    assert [o.split(": ")[1] for o in offenders(tmp_path)] == [
        "a file written outside fsutil", "a subprocess outside engines.process",
        "a connection opened outside engines.postgres"]
