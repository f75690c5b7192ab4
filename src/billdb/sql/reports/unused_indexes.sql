-- §8.2 unused indexes: pg_stat_user_indexes has relname/indexrelname (the plan's indexname and
-- tablename are pg_indexes' columns). Unique and primary-key indexes enforce rules: kept out.
SELECT format('%%I.%%I', s.schemaname, s.relname) AS table,
       format('%%I', s.indexrelname) AS index,
       s.idx_scan AS scans,
       pg_size_pretty(pg_relation_size(s.indexrelid)) AS size,
       pg_relation_size(s.indexrelid) AS size_bytes
  FROM pg_stat_user_indexes s
  JOIN pg_index i ON i.indexrelid = s.indexrelid
 WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
 ORDER BY pg_relation_size(s.indexrelid) DESC, 1, 2;
