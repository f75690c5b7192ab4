-- §13.1 read the row back.
SELECT config_value FROM system_config WHERE config_key = %(key)s;
