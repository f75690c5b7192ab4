-- Client connections on this server now (backends of users, not the server's own workers).
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend';
