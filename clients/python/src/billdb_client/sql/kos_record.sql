-- One call to KOS (the billing back end) made for an inquiry.
INSERT INTO kos_inquiry_history (bill_request_id, line_number, inquiry_month, request_time,
                                 response_time, result_code, result_message, kos_data_json,
                                 error_detail, retry_count, circuit_breaker_state)
VALUES (%(bill_request_id)s, %(line_number)s, %(inquiry_month)s, %(request_time)s,
        %(response_time)s, %(result_code)s, %(result_message)s, %(kos_data_json)s,
        %(error_detail)s, %(retry_count)s, %(circuit_breaker_state)s);
