-- §8.2 connections by state, role and client (client backends only).
SELECT COALESCE(state, 'unknown') AS state,
       COALESCE(usename, '') AS role,
       COALESCE(host(client_addr), 'local') AS client,
       COALESCE(datname, '') AS database,
       count(*) AS connections,
       -- clock_timestamp() and never below 0: now() is this statement's start, and a backend
       -- that changed state since then gave a negative interval.
       GREATEST(max(clock_timestamp() - state_change), interval '0') AS longest_in_state_s
  FROM pg_stat_activity
 WHERE backend_type = 'client backend'
 GROUP BY 1, 2, 3, 4
 ORDER BY connections DESC, 1, 2, 3;
