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
