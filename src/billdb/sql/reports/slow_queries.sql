-- §8.2 slow queries, corrected for PostgreSQL 13+: total_exec_time/mean_exec_time (the plan's
-- total_time no longer exists); hit percentage NULL when a statement read no block.
SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 200) AS query,
       calls,
       round(total_exec_time::numeric, 2) AS total_exec_time_ms,
       round(mean_exec_time::numeric, 2) AS mean_exec_time_ms,
       rows,
       round(100.0 * shared_blks_hit / NULLIF(shared_blks_hit + shared_blks_read, 0), 2)
           AS hit_percent
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY total_exec_time DESC, mean_exec_time DESC
 LIMIT %(limit)s;
