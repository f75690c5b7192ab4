-- Create the month partitions of a history table from the current month to `ahead` months on.
SELECT ensure_monthly_partitions(%(parent)s::regclass, now(), %(ahead)s);
