"""What the Bill-Inquiry service imports: routed pools, errors, and (later) the repository.

    from billdb.client import BillDB, ClientConfig
    async with BillDB(ClientConfig.from_plan()) as db:
        async with db.write(user_id="u1") as conn:
            await conn.execute("INSERT ...")
        rows = await db.fetch("SELECT ...", route="read", user_id="u1")
"""

from billdb.client.db import BillDB, ClientConfig
from billdb.client.errors import ClientError, RouteUnavailable, TransactionInterrupted
from billdb.client.routes import Routes

__all__ = ["BillDB", "ClientConfig", "ClientError", "RouteUnavailable", "Routes",
           "TransactionInterrupted"]
