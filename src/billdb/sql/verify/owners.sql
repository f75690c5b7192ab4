-- Owners of the schema's tables and sequences (partitions follow their parent).
SELECT relname, relkind::text, relowner::regrole::text
  FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'S')
   AND NOT relispartition;
