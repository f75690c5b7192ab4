-- Which of billdb's bookkeeping and the seed table exist (a fresh database has neither).
SELECT to_regclass('billdb.schema_migrations') IS NOT NULL AS migrations,
       to_regclass('public.system_config') IS NOT NULL AS system_config;
