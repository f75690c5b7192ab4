-- The months that must have a partition: the current one and the next (in the session's zone).
SELECT date_trunc('month', now()), date_trunc('month', now()) + interval '2 months';
