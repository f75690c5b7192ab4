-- What psql's \conninfo shows, plus TLS details and the database size.
SELECT current_user, current_database(), host(inet_server_addr()), inet_server_port(),
       s.ssl, s.version, s.cipher, pg_database_size(current_database())
  FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid();
