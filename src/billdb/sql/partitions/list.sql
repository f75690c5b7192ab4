-- The partitions of the given parents with their bounds and owners.
SELECT p.relname AS parent, c.relname AS partition,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''\)')::timestamptz
         AS lower,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz
         AS upper,
       c.relowner::regrole::text AS owner
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_class p ON p.oid = i.inhparent
 WHERE p.relnamespace = 'public'::regnamespace AND p.relname = ANY(%(parents)s)
   AND c.relkind = 'r'
 ORDER BY 1, 3;
