-- Close the current WAL segment so the archiver pushes it; returns the segment to wait for.
SELECT pg_walfile_name(pg_switch_wal()) AS segment;
