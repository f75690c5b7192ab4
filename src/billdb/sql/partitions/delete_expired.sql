-- One batch of the rows older than the cutoff left in the partition the cutoff falls in
-- (the rest went with their partitions). {table} is composed by billdb.ops.partitions.
DELETE FROM {table}
 WHERE (id, request_time) IN (SELECT id, request_time FROM {table}
                               WHERE request_time < %(cutoff)s LIMIT %(batch)s);
