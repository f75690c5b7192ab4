"""The composition root: the explicit lists of what each satellite adds to ops.

ops (`up`, `down`, `status`, `verify`, the scheduler) may not import the satellites above it
(monitoring, operations): layers point down (docs/architecture.md, tests/test_imports.py).
Each satellite names its contributions here instead, and only this module, imported by the
command line's entry point, knows them all. To add a satellite: write its functions in its
own package and list them below.
"""

from __future__ import annotations

from billdb.monitoring import stack as monitoring_stack
from billdb.monitoring import status as monitoring_status
from billdb.monitoring import verify as monitoring_verify
from billdb.operations import jobs as checklist_jobs
from billdb.ops import registry

UP_STEPS = [("monitoring", monitoring_stack.ensure_step)]  # docs/monitoring.md
SERVICES = [monitoring_stack.services]
STATUS_SECTIONS = [("monitoring", monitoring_status.section)]
VERIFY_COLLECTORS = [("monitoring", monitoring_verify.checks)]
JOBS = [checklist_jobs.jobs]  # issue 12: §14.1 checklists


def contributions() -> registry.Registry:
    return registry.Registry(
        up_steps=list(UP_STEPS), services=list(SERVICES), status_sections=list(STATUS_SECTIONS),
        verify_collectors=list(VERIFY_COLLECTORS), jobs=list(JOBS))


def install() -> None:
    registry.install(contributions())
