DELETE FROM customer_info WHERE line_number = ANY(%(lines)s::varchar[]);
