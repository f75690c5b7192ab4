-- Mark a PROCESSING inquiry FAILED or TIMEOUT with the reason.
UPDATE bill_inquiry_history
   SET status = %(status)s, process_time = now(), error_message = %(error_message)s
 WHERE request_id = %(request_id)s
   AND request_time = (SELECT request_time FROM bill_request_ids
                        WHERE request_id = %(request_id)s)
   AND status = 'PROCESSING';
