"""`billdb --env prod azure dump`: §9.1's weekly logical dump on Azure, and the runner that
schedules it next to the service (`azure export --format cronjob`).

The dump is billdb's own path (billdb.ops.backup.dumps.dump_into: pg_dump -Fc as the plan's
backup role inside an exported snapshot, with a manifest of the row counts), over verified
TLS to the server's FQDN; the file and its manifest are then uploaded to the plan's container
through the blob private endpoint with the pod's workload identity (DefaultAzureCredential).
The container's lifecycle rule deletes them after backup.logical.retention_days.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from billdb.azure import database, state
from billdb.azure.target import Target
from billdb.errors import BilldbError
from billdb.ops.backup import dumps as core


def backup_role(t: Target) -> str:
    for name, grants in t.plan.roles.login.items():
        if grants.read_all_data:
            return name
    raise BilldbError("roles.login has no role with read_all_data: true to run pg_dump as")


def _pg_dump(t: Target) -> str:
    found = shutil.which("pg_dump") or str(Path(t.plan.environments.local.postgres_bin)
                                           / "pg_dump")
    return os.environ.get("BILLDB_PG_DUMP", found)


def dump(t: Target, upload: bool = True) -> dict[str, Any]:
    env, role = os.environ, backup_role(t)
    uri = make_conninfo(
        host=t.fqdn(), port=env.get("BILLDB_AZURE_PG_PORT", "5432"), user=role,
        dbname=t.plan.database.name, sslmode="verify-full",
        sslrootcert=env.get("BILLDB_AZURE_PG_CA", "system"), application_name="billdb dump",
        **({"hostaddr": env["BILLDB_AZURE_PG_HOSTADDR"]}
           if env.get("BILLDB_AZURE_PG_HOSTADDR") else {}))
    manifest = core.dump_into(uri, state.directory() / "dumps", t.plan.database.name, role,
                              _pg_dump(t), t.plan.backup.logical.retention_days,
                              f"{t.fqdn()} (backup role)",
                              password=database.secrets().role_password(role))
    manifest["uploaded"] = _upload(t, Path(manifest["file"])) if upload else None
    return manifest


def _upload(t: Target, path: Path) -> str:
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import BlobServiceClient

    url = f"https://{t.az.storage_account}.blob.core.windows.net"
    client = BlobServiceClient(url, credential=DefaultAzureCredential())
    for f in (path, path.with_suffix(".json")):
        with f.open("rb") as fh:
            client.get_blob_client(t.az.dump_container, f.name).upload_blob(fh, overwrite=False)
    return f"{url}/{t.az.dump_container}/{path.name}"


def cronjob(t: Target) -> dict[str, Any]:
    """A Kubernetes CronJob for the AKS cluster running `azure dump` every week at
    backup.logical's day and time in the database's time zone (Sunday 03:00 Asia/Seoul),
    with Azure workload identity."""
    lg = t.plan.backup.logical
    hour, minute = map(int, str(lg.at).split(":")[:2])
    day = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
           "saturday").index(str(lg.weekday).lower())
    name = f"{t.plan.database.name.replace('_', '-')}-logical-dump"
    return {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "billdb"}},
        "spec": {
            "schedule": f"{minute} {hour} * * {day}", "timeZone": t.plan.database.timezone,
            "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 1, "template": {
                "metadata": {"labels": {"azure.workload.identity/use": "true"}},
                "spec": {
                    "serviceAccountName": f"{name}-identity", "restartPolicy": "Never",
                    "containers": [{
                        "name": "dump", "image": "billdb:REPLACE-with-your-image",
                        "command": ["billdb", "--env", "prod", "azure", "dump", "--json"],
                        "env": [{"name": "BILLDB_AZURE_STATE", "value": "/var/lib/billdb/prod"}],
                        "volumeMounts": [{"name": "billdb-state",
                                          "mountPath": "/var/lib/billdb/prod"}]}],
                    "volumes": [{"name": "billdb-state", "secret": {
                        "secretName": "billdb-prod-role-secrets", "defaultMode": 0o400}}]}}}}}}
