-- The privilege matrix: every role x every table of the schema x every table privilege.
SELECT r.rolname AS role, c.relname AS table_name, p.priv,
       has_table_privilege(r.oid, c.oid, p.priv) AS granted,
       pg_has_role(r.oid, c.relowner, 'USAGE') AS owns
  FROM pg_roles r
 CROSS JOIN pg_class c
 CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                         'TRIGGER']) AS p(priv)
 WHERE r.rolname = ANY(%(names)s)
   AND c.relnamespace = 'public'::regnamespace
   AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition;
