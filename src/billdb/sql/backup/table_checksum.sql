-- Row count and an order-independent checksum of one table ({table} is a quoted identifier):
-- the sum of a 64-bit hash of every row's text.
SELECT count(*) AS n,
       coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text AS checksum
FROM {table} AS t;
