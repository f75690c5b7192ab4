"""Where the satellites (monitoring, the operations checklists, and whatever comes next) plug
into ops, which may not import them: layers point down (docs/architecture.md).

ops reads these lists; only the composition root, `billdb.cli.satellites`, fills them: the
command line names it when it starts (`install_lazily`; it is imported when ops first asks, so
commands that never do, such as `app-config` or `plan`, do not load monitoring), and the tests'
conftest installs it, as it calls ops in process. Reading them before either is a programming
error, not an empty list: `down` would forget Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from billdb.context import Context
from billdb.engines.process import Service
from billdb.ops.scheduler.job import Provider
from billdb.ops.verify.check import Check

StepFn = Callable[[Context], tuple[bool, str]]
ServicesFn = Callable[[Context], list[Service]]
SectionFn = Callable[[Context], Any]
Collector = Callable[[Context], Iterable[Check]]


@dataclass
class Registry:
    """What the satellites add to `up`, `down`/`status` (services), `status`, `verify` and
    the scheduler, each in the order given."""

    up_steps: list[tuple[str, StepFn]] = field(default_factory=list)
    services: list[ServicesFn] = field(default_factory=list)
    status_sections: list[tuple[str, SectionFn]] = field(default_factory=list)
    verify_collectors: list[tuple[str, Collector]] = field(default_factory=list)
    jobs: list[Provider] = field(default_factory=list)
    installed: bool = False


_REGISTRY = Registry()
_LOADER: Callable[[], Registry] | None = None


def install(registry: Registry) -> None:
    """Called by the composition root only; a second call replaces the first."""
    global _REGISTRY
    _REGISTRY = Registry(**{**registry.__dict__, "installed": True})


def install_lazily(loader: Callable[[], Registry]) -> None:
    """The composition root's registry, built by `loader` when ops first reads it."""
    global _LOADER
    _LOADER = loader


def get() -> Registry:
    if not _REGISTRY.installed and _LOADER is not None:
        install(_LOADER())
    if not _REGISTRY.installed:
        raise RuntimeError("billdb.cli.satellites.install() was not called: ops cannot see "
                           "the satellites (monitoring, checklists) without it")
    return _REGISTRY
