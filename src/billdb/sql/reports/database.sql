-- §8.2 database: the cache hit ratio is NULL on an idle database (the plan divides by zero).
SELECT datname AS database,
       round(100.0 * blks_hit / NULLIF(blks_hit + blks_read, 0), 2) AS cache_hit_percent,
       xact_commit AS commits,
       xact_rollback AS rollbacks,
       deadlocks,
       temp_files,
       pg_size_pretty(temp_bytes) AS temp_size,
       pg_size_pretty(pg_database_size(datid)) AS size
  FROM pg_stat_database
 WHERE datname = current_database();
