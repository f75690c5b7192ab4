-- The service database's size and the WAL directory's, in bytes.
SELECT pg_database_size(current_database()) AS db_bytes,
       (SELECT coalesce(sum(size), 0)::bigint FROM pg_ls_waldir()) AS wal_bytes,
       current_setting('max_connections')::int AS max_connections,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections;
