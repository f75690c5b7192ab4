-- WAL archiving health on the primary (pg_stat_archiver) and the current WAL position.
SELECT archived_count,
       last_archived_wal,
       last_archived_time,
       failed_count,
       last_failed_wal,
       last_failed_time,
       (last_failed_time IS NULL OR last_archived_time >= last_failed_time) AS healthy,
       pg_walfile_name(pg_current_wal_lsn()) AS current_wal,
       now() AS now
FROM pg_stat_archiver;
