-- The tables of the service schema whose rows a logical dump or a restore is compared by:
-- regular and partitioned tables of `public` (partitions are counted through their parent).
SELECT c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
ORDER BY c.relname;
