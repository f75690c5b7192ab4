-- §13.1 create: one row in the configuration table, as the application role.
INSERT INTO system_config (config_key, config_value, description)
VALUES (%(key)s, %(value)s, 'billdb test-plan');
