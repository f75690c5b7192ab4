-- A page of the inquiries of one line, newest first, optionally by status and
-- request_time range. Keyset pagination: the next page starts below the last row's
-- (request_time, id), so page 100 costs what page 1 costs.
SELECT id, request_id, user_id, line_number, inquiry_month, request_time, process_time, status,
       result_summary, error_message
  FROM bill_inquiry_history
 WHERE line_number = %(line_number)s
   AND (%(status)s::varchar IS NULL OR status = %(status)s::varchar)
   AND request_time >= coalesce(%(since)s::timestamptz, '-infinity')
   AND request_time < coalesce(%(until)s::timestamptz, 'infinity')
   AND (request_time, id) < (coalesce(%(before_time)s::timestamptz, 'infinity'),
                             coalesce(%(before_id)s::bigint, 0))
 ORDER BY request_time DESC, id DESC
 LIMIT %(page_size)s;
