-- SECURITY DEFINER functions outside the system schemas, and whether search_path is fixed.
SELECT n.nspname || '.' || p.proname AS function,
       coalesce(array_to_string(p.proconfig, ',') LIKE '%%search_path=%%', false) AS fixed_path
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.prosecdef
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
 ORDER BY 1;
