-- Every role's attributes (pg_authid: the superuser reads whether a verifier is md5).
SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
       rolcanlogin, rolconnlimit,
       rolpassword IS NOT NULL AS has_password,
       coalesce(rolpassword LIKE 'md5%%', false) AS md5_verifier
  FROM pg_authid
 WHERE rolname !~ '^pg_'
 ORDER BY rolname;
