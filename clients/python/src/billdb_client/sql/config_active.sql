-- The service's active configuration.
SELECT config_key, config_value, config_type
  FROM system_config
 WHERE is_active
 ORDER BY config_key;
