-- Remove one chunk of the benchmark's inquiries (their KOS rows go by cascade).
DELETE FROM bill_inquiry_history WHERE user_id = ANY(%(user_ids)s::varchar[]);
