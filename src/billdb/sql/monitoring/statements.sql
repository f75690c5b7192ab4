-- pg_stat_statements totals: PostgreSQL 13+ calls it total_exec_time (the plan's total_time
-- no longer exists); mean time = rate(total_exec_time_ms) / rate(calls).
SELECT COALESCE(sum(total_exec_time), 0) AS total_exec_time_ms,
       COALESCE(sum(calls), 0) AS calls
  FROM pg_stat_statements;
