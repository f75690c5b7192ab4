"""§8.2, §10.3, §14.1: the servers' logs leave the servers.

Azure keeps a flexible server's log files on the server for a few days; the slow-query log
(log_min_duration_statement), pgaudit's write/ddl trail and the connection log that the
seed's reviews read need a diagnostic setting that ships them. billdb creates a Log Analytics
workspace (retention from environments.prod.azure.log_retention_days) and one diagnostic
setting per server (the replica too: after a §9.2 promotion it is production).

No pinned SDK has models for these two (azure-mgmt-monitor 7.0.0 has no diagnostic settings,
azure-mgmt-loganalytics is not pinned): the bodies are checked against a trimmed extract of the
spec (data/azure_contract_extra.json, which names the files and api-versions) and sent with a
plain PUT through the same authenticated pipeline.
"""

from __future__ import annotations

from typing import Any

from billdb.azure.operation import Operation
from billdb.azure.target import Target

WORKSPACE_API = "2020-08-01"
DIAGNOSTIC_API = "2021-05-01-preview"
# PostgreSQLLogs: the server log (pgaudit, slow queries, connections, errors);
# PostgreSQLFlexSessions: session snapshots for the connection reviews.
LOG_CATEGORIES = ("PostgreSQLLogs", "PostgreSQLFlexSessions")


def workspace_id(t: Target) -> str:
    return t.provider(f"Microsoft.OperationalInsights/workspaces/{t.az.log_workspace}")


def _put(rid: str, api: str) -> Any:
    return lambda c, body: c.put(rid, api, body)


def operations(t: Target) -> list[Operation]:
    ws = workspace_id(t)
    body = {"location": t.plan.server.region, "properties": {
        "sku": {"name": "PerGB2018"}, "retentionInDays": t.az.log_retention_days}}
    ops = [Operation("logs.workspace", "log_workspace", "PUT", ws, "clients", WORKSPACE_API,
                     body, _put(ws, WORKSPACE_API), "§8.2 §10.3",
                     note=f"server logs kept {t.az.log_retention_days} days")]
    for label, server in (("server", t.server_id()), ("replica", t.replica_id)):
        rid = f"{server}/providers/Microsoft.Insights/diagnosticSettings/billdb-logs"
        setting = {"properties": {
            "workspaceId": ws, "logAnalyticsDestinationType": "Dedicated",
            "logs": [{"category": c, "enabled": True} for c in LOG_CATEGORIES],
            "metrics": [{"category": "AllMetrics", "enabled": True}]}}
        ops.append(Operation(f"logs.diagnostic.{label}", "diagnostic_setting", "PUT", rid,
                             "clients", DIAGNOSTIC_API, setting, _put(rid, DIAGNOSTIC_API),
                             "§8.2 §10.3", note="retention is the workspace's (a diagnostic "
                             "setting's own retentionPolicy applies to storage only)"))
    return ops
