-- Checkpoints and what they wrote, PostgreSQL 17 on: pg_stat_checkpointer took these columns
-- from pg_stat_bgwriter (checkpoints.sql reads them there before 17).
SELECT num_timed AS timed,
       num_requested AS requested,
       buffers_written,
       write_time AS write_time_ms,
       sync_time AS sync_time_ms
  FROM pg_stat_checkpointer;
