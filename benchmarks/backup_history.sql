-- One batch of generated Bill-Inquiry history (only the columns of the first migration, so
-- it works with or without monthly partitions): n rows numbered from start, spread over the
-- last 20 days. Parameters are psycopg placeholders, so the modulo operator is written %%.
INSERT INTO bill_inquiry_history (request_id, user_id, line_number, inquiry_month,
                                  request_time, status, result_summary, error_message)
SELECT 'bench-' || g,
       'user-' || (g %% 50000),
       '010-' || lpad((g %% 10000)::text, 4, '0') || '-' || lpad((g %% 9973)::text, 4, '0'),
       to_char(now() - (g %% 24) * interval '1 month', 'YYYY-MM'),
       now() - (g %% 1728000) * interval '1 second',
       (ARRAY['COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED', 'TIMEOUT'])[1 + g %% 5],
       repeat(md5(g::text), 6),
       CASE WHEN g %% 5 = 3 THEN 'KOS timeout after ' || (g %% 60000) || ' ms' END
FROM generate_series(%(start)s::bigint, %(start)s::bigint + %(n)s - 1) AS g;
