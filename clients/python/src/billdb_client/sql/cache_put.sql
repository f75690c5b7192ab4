-- Fill (or refresh) the cache for a line and month; it expires after bill.cache.ttl.hours
-- (system_config; a missing or inactive setting fails the NOT NULL on expires_at).
INSERT INTO bill_info_cache (cache_key, line_number, inquiry_month, bill_info_json, cached_at,
                             expires_at)
VALUES (%(cache_key)s, %(line_number)s, %(inquiry_month)s, %(bill_info_json)s, now(),
        now() + make_interval(hours => (SELECT config_value::int FROM system_config
                                         WHERE config_key = 'bill.cache.ttl.hours'
                                           AND is_active)))
ON CONFLICT (cache_key) DO UPDATE
   SET bill_info_json = EXCLUDED.bill_info_json, cached_at = EXCLUDED.cached_at,
       expires_at = EXCLUDED.expires_at, access_count = 1, last_accessed_at = now()
RETURNING expires_at;
