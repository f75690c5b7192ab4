-- billdb's own bookkeeping, in a schema no application role can see.
CREATE SCHEMA IF NOT EXISTS billdb;
REVOKE ALL ON SCHEMA billdb FROM PUBLIC;
CREATE TABLE IF NOT EXISTS billdb.schema_migrations (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
