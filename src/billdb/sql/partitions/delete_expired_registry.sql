-- One batch of registry entries of requests older than the cutoff whose history rows went with
-- a dropped partition (their KOS rows, if any, go by ON DELETE CASCADE).
DELETE FROM bill_request_ids
 WHERE request_id IN (SELECT request_id FROM bill_request_ids
                       WHERE request_time < %(cutoff)s LIMIT %(batch)s);
