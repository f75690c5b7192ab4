-- Checkpoints and what they wrote, up to PostgreSQL 16 (pg_stat_bgwriter). From 17 on these
-- columns are in pg_stat_checkpointer (checkpoints@17.sql): same metric names either way.
SELECT checkpoints_timed AS timed,
       checkpoints_req AS requested,
       buffers_checkpoint AS buffers_written,
       checkpoint_write_time AS write_time_ms,
       checkpoint_sync_time AS sync_time_ms
  FROM pg_stat_bgwriter;
