SELECT config_key, config_value, config_type, is_active
  FROM system_config
 ORDER BY config_key;
