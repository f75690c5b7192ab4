"""Azurite, Microsoft's Azure Storage emulator (npm `azurite`): the geo repository's blob store.

pgBackRest reaches it with repo-type=azure over TLS. Azurite serves the environment's server
certificate (SAN localhost, signed by the environment's CA, which pgBackRest is told to trust),
and its only account is `billdb` with a generated key (never the well-known dev key).
pgBackRest does not create the container, so `ensure_container` does, with the Azure SDK.
"""

from __future__ import annotations

import socket
from pathlib import Path

from billdb.backup_layout import BackupLayout
from billdb.engines import process
from billdb.engines.tools import TOOLS_DIR
from billdb.errors import StepError
from billdb.layout import Layout
from billdb.plan.local_models import LocalEnvironment
from billdb.render.pgbackrest import AZURE_ACCOUNT, AZURE_HOST
from billdb.retry import wait_until


def executable() -> Path:
    """Installed by scripts/install.sh into the project's .tools (npm, no global install)."""
    return TOOLS_DIR / "node_modules" / ".bin" / "azurite-blob"


def service(env: LocalEnvironment, layout: Layout, account_key: str) -> process.Service:
    paths = BackupLayout(layout)
    return process.Service(
        name="azurite",
        argv=[
            str(executable()), "--blobHost", "127.0.0.1",
            "--blobPort", str(env.backup.azurite_port),
            "--cert", str(layout.server_cert), "--key", str(layout.server_key),
            "--skipApiVersionCheck", "--disableProductStyleUrl",
            "--location", str(paths.azurite_data),
        ],
        pidfile=paths.azurite_dir / "azurite.pid",
        logfile=paths.azurite_dir / "azurite.log",
        user=env.os_user,
        env={"AZURITE_ACCOUNTS": f"{AZURE_ACCOUNT}:{account_key}"},
        supervisor=layout.supervisor_dir,  # the key sits in its 0600 program file
        priority=150,  # the archive's repo2: up before Patroni, down after it
    )


def wait_listening(port: int, timeout: float = 30) -> bool:
    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    return wait_until(listening, timeout, 0.2)


def ensure_container(port: int, account_key: str, container: str, ca_file: Path) -> bool:
    """Create the blob container unless it exists; True when created."""
    from azure.core.exceptions import AzureError, ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient(
        account_url=f"https://{AZURE_HOST}:{port}/{AZURE_ACCOUNT}",
        credential={"account_name": AZURE_ACCOUNT, "account_key": account_key},
        connection_verify=str(ca_file),
    )
    try:
        client.create_container(container)
        return True
    except ResourceExistsError:
        return False
    except AzureError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StepError("backup storage", f"Azurite: cannot create container: {first}") from None
