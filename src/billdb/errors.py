"""The errors billdb reports to users (never as tracebacks)."""


class BilldbError(Exception):
    """A failure with a message fit for the user; the CLI exits 1."""

    exit_code = 1


class PlanError(BilldbError):
    """The plan file is invalid: nothing was applied; the CLI exits 2. `file`, `line` and
    `field` (dotted) locate the cause when known (the JSON error document carries them)."""

    exit_code = 2

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.file, self.line, self.field = file, line, field


class ArgumentError(BilldbError):
    """A bad option or environment value: nothing ran; the CLI exits 2."""

    exit_code = 2


class StepError(BilldbError):
    """A provisioning step failed; the message names the step and its log."""

    def __init__(self, step: str, detail: str, log: str | None = None) -> None:
        where = f" (log: {log})" if log else ""
        super().__init__(f"step '{step}' failed: {detail}{where}")
        self.step = step
