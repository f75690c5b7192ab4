-- Remove the benchmark's cache entries and customers (lines of the benchmark's range).
DELETE FROM bill_info_cache WHERE line_number = ANY(%(lines)s::varchar[]);
