-- The background writer: columns pg_stat_bgwriter has on every version billdb supports
-- (17 moved the checkpoint ones to pg_stat_checkpointer and dropped buffers_backend).
SELECT buffers_clean, maxwritten_clean, buffers_alloc
  FROM pg_stat_bgwriter;
