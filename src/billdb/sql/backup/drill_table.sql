-- billdb's own table for the restore drill's marker rows (billdb's operational schema, not
-- the service schema).
CREATE SCHEMA IF NOT EXISTS billdb;
CREATE TABLE IF NOT EXISTS billdb.restore_drill (
    id         bigserial PRIMARY KEY,
    run_id     text        NOT NULL,
    phase      text        NOT NULL CHECK (phase IN ('marker', 'after_target')),
    payload    text        NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
