"""Re-export of billdb_client.multiplex (the billdb-client distribution)."""

from billdb_client.multiplex import *  # noqa: F403
