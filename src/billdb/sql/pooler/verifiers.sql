-- The SCRAM verifiers of the pooled login roles, for PgBouncer's auth_file (the server's own
-- verifiers: a client's SCRAM login then lets PgBouncer log in to the server as that user).
SELECT rolname, rolpassword
  FROM pg_authid
 WHERE rolname = ANY(%(users)s) AND rolcanlogin AND rolpassword LIKE 'SCRAM-SHA-256$%%';
