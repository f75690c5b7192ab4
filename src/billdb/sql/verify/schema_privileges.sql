SELECT r.rolname AS role,
       has_schema_privilege(r.oid, 'public', 'USAGE') AS schema_usage,
       has_schema_privilege(r.oid, 'public', 'CREATE') AS schema_create,
       has_database_privilege(r.oid, current_database(), 'CONNECT') AS db_connect,
       has_database_privilege(r.oid, current_database(), 'CREATE') AS db_create,
       has_database_privilege(r.oid, current_database(), 'TEMPORARY') AS db_temporary
  FROM pg_roles r
 WHERE r.rolname = ANY(%(names)s);
