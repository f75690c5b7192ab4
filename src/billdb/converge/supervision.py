"""The supervised programs (docs/supervision.md): one supervisord per environment runs etcd,
Patroni per member, PgBouncer and its follower, Azurite, the scheduler and the monitoring
stack.

desired: the program each supervised service renders for supervisord
         (`engines.process.supervised`: its name and its [program:…] section); the caller
         passes the environment's services in, since ops and the satellites add their own.
observe: supervisord's getAllProcessInfo over its socket (`engines.supervisor`), reads only.
checks:  `supervise.<program>.running` for each desired program (RUNNING, or its state and
         spawn error); `supervise.supervisord` alone when supervisord does not answer.
apply:   `up` starts each program in its own step (`engines.process.start`), in priority
         order; there is no separate repair here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from billdb.converge.core import Check
from billdb.engines import process
from billdb.engines.supervisor import Program, ProgramState, Supervisor

S = "supervision (docs/supervision.md)"


@dataclass(frozen=True)
class Observed:
    """supervisord's programs by name; None when it does not answer."""

    programs: dict[str, ProgramState] | None


def desired(services: list[process.Service]) -> list[Program]:
    """Pure: the supervised ones among `services`, as supervisord is told to run them."""
    return [p for p in map(process.supervised, services) if p is not None]


def observe(supervisor_dir: Path) -> Observed:
    rows = Supervisor(supervisor_dir).all_info()
    if rows is None:
        return Observed(None)
    return Observed({r.name: r for r in rows})


def checks(want: list[Program], found: Observed) -> list[Check]:
    if found.programs is None:
        return [Check("supervise.supervisord", S, "answering", "not answering", False)]
    out = []
    for prog in want:
        have = found.programs.get(prog.name)
        out.append(Check(f"supervise.{prog.name}.running", S, "RUNNING",
                         have.shown if have else "not known to supervisord",
                         have is not None and have.state == "RUNNING"))
    return out
