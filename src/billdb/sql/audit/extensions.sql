-- Extensions installed in the current database.
SELECT extname, extversion FROM pg_extension ORDER BY 1;
