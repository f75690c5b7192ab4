-- Extensions whose control files are installed on this server.
SELECT name FROM pg_available_extensions ORDER BY name
