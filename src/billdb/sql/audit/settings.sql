-- Every server setting the audit judges, by name (pg_settings: the value in force).
SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%(names)s);
