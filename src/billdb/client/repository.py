"""Re-export of billdb_client.repository (the billdb-client distribution)."""

from billdb_client.repository import *  # noqa: F403
