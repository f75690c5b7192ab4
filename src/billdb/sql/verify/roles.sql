SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
       rolreplication, rolbypassrls
  FROM pg_roles
 WHERE rolname = ANY(%(names)s);
