"""Re-export of billdb_client.errors (the billdb-client distribution)."""

from billdb_client.errors import *  # noqa: F403
