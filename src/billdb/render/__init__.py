"""Pure functions from the plan to what the engines consume (SQL, configs, pg_hba)."""
