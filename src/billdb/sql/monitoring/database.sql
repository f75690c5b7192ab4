-- Counters of the plan's database (the exporter connects to it).
SELECT blks_hit, blks_read, xact_commit, xact_rollback, deadlocks, temp_files
  FROM pg_stat_database
 WHERE datname = current_database();
