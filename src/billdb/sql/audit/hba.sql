-- The pg_hba rules in force (type, databases, users, address, netmask, method, error).
SELECT line_number, type, database, user_name, address, netmask, auth_method, error
  FROM pg_hba_file_rules ORDER BY line_number;
