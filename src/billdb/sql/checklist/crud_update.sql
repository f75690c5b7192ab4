-- §13.1 update it.
UPDATE system_config SET config_value = %(value)s WHERE config_key = %(key)s;
