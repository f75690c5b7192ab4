-- One inquiry by request_id (the client polls it right after writing it).
SELECT request_id, user_id, line_number, inquiry_month, request_time, process_time, status,
       result_summary, bill_info_json, error_message
  FROM bill_inquiry_history
 WHERE request_id = %(request_id)s
   AND request_time = (SELECT request_time FROM bill_request_ids
                        WHERE request_id = %(request_id)s);
