"""Errors the Bill-Inquiry service sees from billdb_client."""

from __future__ import annotations


class ClientError(Exception):
    """Base class of billdb_client errors."""


class TransactionInterrupted(ClientError):
    """The connection to the primary was lost while a write transaction ran (a failover).

    `outcome_unknown` is True when the loss happened during COMMIT: the transaction may or
    may not have committed, so a retry must be idempotent (e.g. keyed by request_id).
    Otherwise it certainly rolled back and may simply be retried.
    """

    retryable = True

    def __init__(self, outcome_unknown: bool, cause: BaseException) -> None:
        state = ("the commit's outcome is unknown (it may have committed); retry only if the "
                 "write is idempotent" if outcome_unknown
                 else "it was rolled back; it may be retried")
        super().__init__(f"write transaction interrupted by a lost connection ({cause}); {state}")
        self.outcome_unknown = outcome_unknown


class RouteUnavailable(ClientError):
    """No server could serve the route within the plan's connection timeout."""


class DeadlineExceeded(ClientError):
    """A call did not end within its deadline (the profile's connection timeout plus its
    statement timeout). `waiting_for` says what it was waiting for when the time ran out.

    `outcome_unknown` is True when a write had been sent: it may or may not have committed,
    so a retry must be idempotent (as with TransactionInterrupted). A read may be retried.
    """

    retryable = True

    def __init__(self, waiting_for: str, seconds: float, outcome_unknown: bool = False) -> None:
        state = "; the outcome is unknown (it may have committed)" if outcome_unknown else ""
        super().__init__(f"no answer within {seconds:g} s: waiting for {waiting_for}{state}")
        self.waiting_for = waiting_for
        self.seconds = seconds
        self.outcome_unknown = outcome_unknown
