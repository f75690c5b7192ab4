-- Mark a PROCESSING inquiry COMPLETED with its (encrypted) bill. The registry gives the
-- request's request_time, which prunes the history to one partition. No row: already done.
UPDATE bill_inquiry_history
   SET status = 'COMPLETED', process_time = now(), bill_info_json = %(bill_info_json)s,
       result_summary = %(result_summary)s, error_message = NULL
 WHERE request_id = %(request_id)s
   AND request_time = (SELECT request_time FROM bill_request_ids
                        WHERE request_id = %(request_id)s)
   AND status = 'PROCESSING';
