-- Every parameter the server knows, with what a change of it needs (context) and its unit.
SELECT name, context, vartype, unit, boot_val
FROM pg_settings
ORDER BY name
