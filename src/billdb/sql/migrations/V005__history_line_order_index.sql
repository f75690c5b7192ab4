-- A line's history page, newest first (DESIGN.md §2): the index now carries the whole sort
-- key (request_time DESC, id DESC), so each monthly partition hands rows over in page order
-- and PostgreSQL reads the newest partitions first and stops at the page size, instead of
-- walking every recent row of every line (what the planner did with V003's index).
DROP INDEX idx_bill_history_line_time;
CREATE INDEX idx_bill_history_line_page
    ON bill_inquiry_history (line_number, request_time DESC, id DESC);
