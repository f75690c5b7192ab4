-- §13.1 delete it (the run leaves nothing behind).
DELETE FROM system_config WHERE config_key = %(key)s;
