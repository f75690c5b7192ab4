-- One acknowledged write of a drill: a completed inquiry row named after the drill run.
-- The server's port and start time identify which PostgreSQL instance acknowledged it.
INSERT INTO bill_inquiry_history (request_id, user_id, line_number, status, result_summary)
VALUES (%(request_id)s, %(user_id)s, '000-0000-0000', 'COMPLETED', 'billdb drill write')
RETURNING inet_server_port() || '@' || pg_postmaster_start_time()::text;
