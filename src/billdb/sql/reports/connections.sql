-- §8.2 connections by state, role and client (client backends only).
SELECT COALESCE(state, 'unknown') AS state,
       COALESCE(usename, '') AS role,
       COALESCE(host(client_addr), 'local') AS client,
       COALESCE(datname, '') AS database,
       count(*) AS connections,
       max(now() - state_change) AS longest_in_state
  FROM pg_stat_activity
 WHERE backend_type = 'client backend'
 GROUP BY 1, 2, 3, 4
 ORDER BY connections DESC, 1, 2, 3;
