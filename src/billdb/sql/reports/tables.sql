-- §11.2 table sizes: by OID, so names that need quoting work (the plan concatenates names).
SELECT format('%%I.%%I', n.nspname, c.relname) AS table,
       pg_size_pretty(pg_total_relation_size(c.oid)) AS total,
       pg_size_pretty(pg_relation_size(c.oid)) AS heap,
       pg_size_pretty(pg_indexes_size(c.oid)) AS indexes,
       pg_total_relation_size(c.oid) AS total_bytes,
       -- reltuples is -1 until the first VACUUM or ANALYZE: unknown, not minus one.
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS estimated_rows
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
 ORDER BY pg_total_relation_size(c.oid) DESC
 LIMIT %(limit)s;
