-- Which server answers through the pooler, whether it is the primary, and whether the
-- pooler's connection to it uses TLS.
SELECT inet_server_port(), pg_is_in_recovery(), s.ssl, s.version
  FROM pg_stat_ssl s
 WHERE s.pid = pg_backend_pid();
