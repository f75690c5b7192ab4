-- Client backends on this server (the §8.1 connections alert), against its max_connections.
SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS client,
       current_setting('max_connections')::int AS max_connections
  FROM pg_stat_activity;
