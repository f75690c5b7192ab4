-- The primary's view of its standbys; on a standby is_primary is 0 and the rest 0.
-- pg_current_wal_lsn() fails during recovery, so CASE keeps it off standbys.
SELECT (NOT pg_is_in_recovery())::int AS is_primary,
       count(*) FILTER (WHERE state = 'streaming') AS streaming,
       count(*) FILTER (WHERE sync_state IN ('sync', 'quorum')) AS sync,
       CASE WHEN pg_is_in_recovery() THEN 0
            ELSE COALESCE(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)
       END AS max_lag_bytes
  FROM pg_stat_replication;
