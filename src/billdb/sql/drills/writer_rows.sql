SELECT request_id FROM bill_inquiry_history WHERE user_id = %(user_id)s;
