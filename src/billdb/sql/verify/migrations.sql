SELECT version, name, checksum FROM billdb.schema_migrations ORDER BY version;
