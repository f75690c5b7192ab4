-- The retention of a history table from the service's configuration (system_config).
SELECT config_value::int FROM system_config WHERE config_key = %(key)s AND is_active;
