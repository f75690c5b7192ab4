-- A cache hit: the unexpired bill of a line and month, counting the access.
UPDATE bill_info_cache
   SET access_count = access_count + 1, last_accessed_at = now()
 WHERE cache_key = %(cache_key)s AND expires_at > now()
RETURNING bill_info_json, cached_at, expires_at, access_count;
