-- Replication slots given up at max_slot_wal_keep_size (render/bounds.py): 'unreserved' will
-- lose WAL at the next checkpoint, 'lost' has; the replica catches up from the archive.
SELECT count(*) FILTER (WHERE wal_status IN ('unreserved', 'lost')) AS given_up,
       count(*) AS total
  FROM pg_replication_slots;
