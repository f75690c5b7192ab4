-- What PUBLIC (every role) may do on schema public and on the service database.
SELECT coalesce(bool_or(a.privilege_type = 'CREATE'), false) AS schema_create,
       coalesce(bool_or(a.privilege_type = 'USAGE'), false) AS schema_usage,
       (SELECT coalesce(bool_or(d.privilege_type = 'CONNECT'), false)
          FROM pg_database db, aclexplode(coalesce(db.datacl, acldefault('d', db.datdba))) d
         WHERE db.datname = current_database() AND d.grantee = 0) AS db_connect,
       (SELECT coalesce(bool_or(d.privilege_type = 'TEMPORARY'), false)
          FROM pg_database db, aclexplode(coalesce(db.datacl, acldefault('d', db.datdba))) d
         WHERE db.datname = current_database() AND d.grantee = 0) AS db_temporary
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.nspname = 'public' AND a.grantee = 0;
