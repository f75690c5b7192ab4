-- Add the cache hits a client counted since its last flush (keys sorted by the client, so two
-- clients flushing overlapping keys lock them in the same order and cannot deadlock).
UPDATE bill_info_cache c
   SET access_count = c.access_count + h.hits,
       last_accessed_at = greatest(c.last_accessed_at, h.last_hit)
  FROM unnest(%(keys)s::varchar[], %(hits)s::int[], %(last_hits)s::timestamptz[])
       AS h(cache_key, hits, last_hit)
 WHERE c.cache_key = h.cache_key;
