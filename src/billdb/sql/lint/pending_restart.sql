-- Parameters changed in the configuration that only a restart will apply.
SELECT name FROM pg_settings WHERE pending_restart AND name = ANY(%(names)s) ORDER BY name
