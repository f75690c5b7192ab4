-- The rows of drill writers whose run was killed before its audit deleted them.
DELETE FROM bill_inquiry_history WHERE left(user_id, length(%(prefix)s)) = %(prefix)s;
