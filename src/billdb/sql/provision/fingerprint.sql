-- A digest of every catalog fact billdb converges (roles, memberships, ACLs, default
-- ACLs, database settings, extensions, migrations): equal before and after = no change.
SELECT md5(string_agg(fact, E'\n' ORDER BY fact)) FROM (
    SELECT format('role %s %s%s%s%s%s%s%s', rolname, rolsuper, rolinherit, rolcreaterole,
                  rolcreatedb, rolcanlogin, rolreplication, rolbypassrls) AS fact
      FROM pg_roles WHERE rolname !~ '^pg_'
    UNION ALL
    SELECT format('member %s %s', m.roleid::regrole, m.member::regrole) FROM pg_auth_members m
    UNION ALL
    SELECT format('db %s %s %s', datname, datdba::regrole, datacl) FROM pg_database
    UNION ALL
    SELECT format('dbsetting %s %s', setdatabase, setconfig) FROM pg_db_role_setting
    UNION ALL
    SELECT format('schema %s %s %s', nspname, nspowner::regrole, nspacl) FROM pg_namespace
     WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
    UNION ALL
    SELECT format('rel %s %s %s', c.oid::regclass, c.relowner::regrole, c.relacl)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('public', 'billdb') AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
    UNION ALL
    SELECT format('defacl %s %s %s %s', defaclrole::regrole, defaclnamespace, defaclobjtype,
                  defaclacl) FROM pg_default_acl
    UNION ALL
    SELECT format('ext %s %s', extname, extversion) FROM pg_extension
) facts;
