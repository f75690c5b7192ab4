"""Operations after the servers: the dump storage (§9.1) and the Azure Monitor alerts (§8.1)."""

from __future__ import annotations

from billdb.azure import sdk
from billdb.azure.operation import API, Operation
from billdb.azure.target import Target

# Azure Monitor has no response-time metric for flexible server: the closest honest alert is
# the longest running query (needs metrics.collector_database_activity=on).
RESPONSE_TIME_NOTE = ("Azure has no response-time metric for flexible server: this alert uses "
                      "longest_query_time_sec, the longest running query, which is the closest; "
                      "per-query latency needs Query Store or the application's own metrics")


def _storage(t: Target) -> list[Operation]:
    sm, rg = sdk.storage(), t.rg
    acct, cont = t.az.storage_account, t.az.dump_container
    days = t.plan.backup.logical.retention_days
    policy = sm.ManagementPolicy(policy=sm.ManagementPolicySchema(rules=[sm.ManagementPolicyRule(
        name="expire-logical-dumps", enabled=True, type="Lifecycle",
        definition=sm.ManagementPolicyDefinition(
            actions=sm.ManagementPolicyAction(base_blob=sm.ManagementPolicyBaseBlob(
                delete=sm.DateAfterModification(days_after_modification_greater_than=days))),
            filters=sm.ManagementPolicyFilter(blob_types=["blockBlob"],
                                              prefix_match=[f"{cont}/"])))]))
    return [
        Operation("storage.account", "storage_account", "PUT", t.account_id, "storage",
                  API["storage"], sm.StorageAccountCreateParameters(
                      sku=sm.Sku(name="Standard_ZRS"), kind="StorageV2",
                      location=t.plan.server.region, minimum_tls_version="TLS1_2",
                      allow_blob_public_access=False, enable_https_traffic_only=True,
                      public_network_access="Disabled"),
                  lambda c, m: c.storage_accounts.begin_create(rg, acct, m).result(), "§9.1"),
        Operation("storage.container", "blob_container", "PUT",
                  f"{t.account_id}/blobServices/default/containers/{cont}", "storage",
                  API["storage"], sm.BlobContainer(public_access="None"),
                  lambda c, m: c.blob_containers.create(rg, acct, cont, m), "§9.1"),
        Operation("storage.lifecycle", "lifecycle_policy", "PUT",
                  f"{t.account_id}/managementPolicies/default", "storage", API["storage"],
                  policy, lambda c, m: c.management_policies.create_or_update(
                      rg, acct, "default", m), "§9.1",
                  note=f"dumps deleted {days} days after they are written"),
    ]


def alert_specs(t: Target) -> list[tuple[str, str, str, float, str, str, str]]:
    """(name, metric, aggregation, threshold, window, scope id, plan item) of §8.1."""
    m, srv = t.plan.monitoring, t.plan.server.name
    return [
        (f"{srv}-cpu", "cpu_percent", "Average", m.cpu_pct, "PT5M", t.server_id(),
         "monitoring.cpu_pct"),
        (f"{srv}-memory", "memory_percent", "Average", m.memory_pct, "PT5M", t.server_id(),
         "monitoring.memory_pct"),
        (f"{srv}-storage", "storage_percent", "Average", m.disk_pct, "PT5M", t.server_id(),
         "monitoring.disk_pct"),
        (f"{srv}-connections", "active_connections", "Maximum", m.connections, "PT5M",
         t.server_id(), "monitoring.connections"),
        (f"{srv}-failed-connections", "connections_failed", "Total",
         m.failed_connections_per_min, "PT1M", t.server_id(),
         "monitoring.failed_connections_per_min"),
        (f"{srv}-longest-query", "longest_query_time_sec", "Maximum",
         m.response_time_ms / 1000, "PT5M", t.server_id(), "monitoring.response_time_ms"),
        # Bytes of WAL the replica has not replayed, on the primary ("maximum lag across all
        # asynchronous physical replication slots"). physical_replication_delay_in_seconds is
        # the time since the last replayed transaction: it passes any threshold whenever the
        # primary is idle, so it cannot carry the RPO.
        (f"{srv}-replica-lag", "physical_replication_delay_in_bytes", "Maximum",
         rpo_bytes(t), "PT5M", t.server_id(), "dr.rpo_min"),
    ]


def rpo_bytes(t: Target) -> float:
    """The RPO as bytes behind: rpo_min x 60 s x the peak WAL rate (MB/s) of the plan."""
    return t.plan.dr.rpo_min * 60 * t.az.peak_wal_mb_per_s * 1024 * 1024


def _note(t: Target, metric: str, item: str) -> str:
    if metric == "longest_query_time_sec":
        return RESPONSE_TIME_NOTE
    if metric == "physical_replication_delay_in_bytes":
        return (f"from {item}: RPO {t.plan.dr.rpo_min} min x 60 s x peak WAL "
                f"{t.az.peak_wal_mb_per_s:g} MB/s = {rpo_bytes(t) / 2**20:g} MB behind")
    return f"from {item}"


def _alerts(t: Target) -> list[Operation]:
    mm, rg, az = sdk.monitor(), t.rg, t.az
    ag = mm.ActionGroupResource(
        location="Global", group_short_name=az.action_group[:12], enabled=True,
        email_receivers=[mm.EmailReceiver(name="dba-oncall", email_address=az.alert_email,
                                          use_common_alert_schema=True)])
    ops = [Operation("alert.action_group", "action_group", "PUT", t.action_group_id,
                     "monitor", API["monitor.action_groups"], ag,
                     lambda c, m: c.action_groups.create_or_update(rg, az.action_group, m),
                     "§8.1")]
    for name, metric, agg, threshold, window, scope, item in alert_specs(t):
        model = mm.MetricAlertResource(
            location="global", description=f"billdb: {item} (plan §8.1)", severity=2,
            enabled=True, scopes=[scope], evaluation_frequency="PT1M", window_size=window,
            target_resource_type="Microsoft.DBforPostgreSQL/flexibleServers",
            criteria=mm.MetricAlertSingleResourceMultipleMetricCriteria(all_of=[
                # the seed's thresholds say 이상: at or above
                mm.MetricCriteria(name=metric, metric_name=metric,
                                  operator="GreaterThanOrEqual",
                                  threshold=threshold, time_aggregation=agg,
                                  metric_namespace="Microsoft.DBforPostgreSQL/"
                                                   "flexibleServers")]),
            auto_mitigate=True, actions=[mm.MetricAlertAction(action_group_id=t.action_group_id)])
        ops.append(Operation(
            f"alert.{metric}", "metric_alert", "PUT", t.alert_id(name), "monitor",
            API["monitor.metric_alerts"], model,
            lambda c, m, n=name: c.metric_alerts.create_or_update(rg, n, m), "§8.1",
            note=_note(t, metric, item)))
    return ops


def dumps_and_alerts(t: Target) -> list[Operation]:
    from billdb.azure import blob_path

    return [*_storage(t), *blob_path.operations(t), *_alerts(t)]
