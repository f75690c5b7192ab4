-- The oldest open transaction (client backends) and the oldest transaction-ID age.
SELECT COALESCE(EXTRACT(epoch FROM max(now() - a.xact_start)), 0) AS longest_seconds,
       (SELECT max(age(datfrozenxid)) FROM pg_database) AS max_xid_age
  FROM pg_stat_activity a
 WHERE a.backend_type = 'client backend' AND a.xact_start IS NOT NULL
   AND a.pid <> pg_backend_pid();
