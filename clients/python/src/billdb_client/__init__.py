"""What the Bill-Inquiry service imports: routed pools, errors, encryption, the repository.

    from billdb_client import BillDB, ClientConfig
    async with BillDB(ClientConfig.from_profile("client-profile.json")) as db:
        async with db.write(user_id="u1") as conn:
            await conn.execute("INSERT ...")
        rows = await db.fetch("SELECT ...", route="read", user_id="u1")
"""

from billdb_client.config import ClientConfig
from billdb_client.db import BillDB
from billdb_client.errors import (
    ClientError,
    DeadlineExceeded,
    RouteUnavailable,
    TransactionInterrupted,
)
from billdb_client.profile import ProfileError
from billdb_client.routes import Routes

__all__ = ["BillDB", "ClientConfig", "ClientError", "DeadlineExceeded", "ProfileError",
           "RouteUnavailable", "Routes", "TransactionInterrupted"]
