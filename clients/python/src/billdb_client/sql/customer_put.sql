-- Store or refresh a customer's info; it stays fresh for bill.customer.cache.ttl.hours
-- (system_config; a missing or inactive setting fails the NOT NULL on expires_at).
INSERT INTO customer_info (customer_id, line_number, customer_name, status, operator_code,
                           cached_at, expires_at)
VALUES (%(customer_id)s, %(line_number)s, %(customer_name)s, %(status)s, %(operator_code)s, now(),
        now() + make_interval(hours => (SELECT config_value::int FROM system_config
                                         WHERE config_key = 'bill.customer.cache.ttl.hours'
                                           AND is_active)))
ON CONFLICT (customer_id) DO UPDATE
   SET line_number = EXCLUDED.line_number, customer_name = EXCLUDED.customer_name,
       status = EXCLUDED.status, operator_code = EXCLUDED.operator_code,
       cached_at = EXCLUDED.cached_at, expires_at = EXCLUDED.expires_at;
