SELECT r.rolname AS role, c.relname AS sequence_name,
       has_sequence_privilege(r.oid, c.oid, 'USAGE') AS usage,
       has_sequence_privilege(r.oid, c.oid, 'SELECT') AS select,
       has_sequence_privilege(r.oid, c.oid, 'UPDATE') AS update
  FROM pg_roles r
 CROSS JOIN pg_class c
 WHERE r.rolname = ANY(%(names)s)
   AND c.relnamespace = 'public'::regnamespace AND c.relkind = 'S';
