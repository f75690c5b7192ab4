"""Named steps with progress callbacks: each reports whether it changed anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class StepResult:
    name: str
    changed: bool
    detail: str


@dataclass
class Steps:
    """Runs steps in order, telling the caller (the CLI's progress display) about each."""

    on_start: Callable[[str], None] = lambda name: None
    on_done: Callable[[StepResult], None] = lambda result: None
    on_end: Callable[[], None] = lambda: None  # after each step, also when it failed
    results: list[StepResult] = field(default_factory=list)

    def run(self, name: str, fn: Callable[[], tuple[bool, str]]) -> StepResult:
        self.on_start(name)
        try:
            changed, detail = fn()
        finally:
            self.on_end()
        result = StepResult(name, changed, detail)
        self.results.append(result)
        self.on_done(result)
        return result

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.results)
