-- The unexpired cached bill of a line and month (a read: hits are counted in batches by
-- cache_hits, not with a synchronously replicated write per hit).
SELECT bill_info_json, cached_at, expires_at, access_count
  FROM bill_info_cache
 WHERE cache_key = %(cache_key)s AND expires_at > now();
