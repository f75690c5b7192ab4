-- Seen from the primary: every standby, how it replicates and how far behind it is.
SELECT application_name, state, sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes
  FROM pg_stat_replication;
