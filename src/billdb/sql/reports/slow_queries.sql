-- §8.2 slow queries, corrected for PostgreSQL 13+: total_exec_time/mean_exec_time (the plan's
-- total_time no longer exists); hit percentage NULL when a statement read no block.
-- billdb's own statements (its administrator and the exporters' monitoring role) are left out
-- unless %(include_own)s, and then labelled; ordered by total or mean time.
SELECT left(regexp_replace(s.query, '\s+', ' ', 'g'), 200) AS query,
       r.rolname AS role,
       (r.rolname = ANY(%(own_roles)s)) AS billdb_own,
       s.calls,
       round(s.total_exec_time::numeric, 2) AS total_exec_time_ms,
       round(s.mean_exec_time::numeric, 2) AS mean_exec_time_ms,
       s.rows,
       round(100.0 * s.shared_blks_hit / NULLIF(s.shared_blks_hit + s.shared_blks_read, 0), 2)
           AS hit_percent
  FROM pg_stat_statements s
  LEFT JOIN pg_roles r ON r.oid = s.userid
 WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND (%(include_own)s OR NOT COALESCE(r.rolname = ANY(%(own_roles)s), false))
 ORDER BY CASE WHEN %(order)s = 'mean' THEN s.mean_exec_time ELSE s.total_exec_time END DESC,
          s.total_exec_time DESC
 LIMIT %(limit)s;
