"""The ops tool's view of the service's client, which is its own distribution now:
`billdb-client` (clients/python, import `billdb_client`). These modules re-export it so
existing imports keep working, and add what only the ops tool knows: the plan
(`ClientConfig.from_plan`) and the plan's encrypted-column list."""

from billdb_client.errors import (
    ClientError,
    DeadlineExceeded,
    RouteUnavailable,
    TransactionInterrupted,
)
from billdb_client.routes import Routes

from billdb.client.db import BillDB, ClientConfig

__all__ = ["BillDB", "ClientConfig", "ClientError", "DeadlineExceeded", "RouteUnavailable",
           "Routes", "TransactionInterrupted"]
