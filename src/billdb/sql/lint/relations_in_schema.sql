-- How many tables (or sequences) a GRANT ... ON ALL ... IN SCHEMA would reach right now,
-- not counting the ones an extension brought (pg_stat_statements' views, for instance).
SELECT count(*)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind = ANY(%(kinds)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
