SELECT name, setting, unit, vartype, context, pending_restart
  FROM pg_settings
 WHERE name = ANY(%(names)s);
