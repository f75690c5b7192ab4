-- Drop the partitions whose rows are all older than the cutoff.
SELECT drop_partitions_before(%(parent)s::regclass, %(cutoff)s);
