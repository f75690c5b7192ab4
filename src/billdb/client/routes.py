"""Re-export of billdb_client.routes (the billdb-client distribution)."""

from billdb_client.routes import *  # noqa: F403
