-- The busiest statements (pg_stat_statements in the service database): the weekly snapshot.
SELECT queryid::text, left(query, 200) AS query, calls, mean_exec_time, total_exec_time
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY total_exec_time DESC
 LIMIT 100;
