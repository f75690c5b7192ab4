-- Members of the predefined roles that reach the server's files or programs.
SELECT m.rolname AS member, g.rolname AS granted
  FROM pg_auth_members am
  JOIN pg_roles m ON m.oid = am.member
  JOIN pg_roles g ON g.oid = am.roleid
 WHERE g.rolname IN ('pg_read_server_files', 'pg_write_server_files',
                     'pg_execute_server_program')
   AND NOT m.rolsuper;
