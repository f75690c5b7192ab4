-- A new inquiry, PROCESSING. A request_id already used (in any month) fails with
-- unique_violation on bill_request_ids_pkey (the registry trigger).
INSERT INTO bill_inquiry_history (request_id, user_id, line_number, inquiry_month)
VALUES (%(request_id)s, %(user_id)s, %(line_number)s, %(inquiry_month)s)
RETURNING request_time;
