-- Customer info of one line (the lookup key, kept in clear); customer_name is ciphertext.
SELECT customer_id, line_number, customer_name, status, operator_code, cached_at, expires_at,
       expires_at > now() AS fresh
  FROM customer_info
 WHERE line_number = %(line_number)s;
