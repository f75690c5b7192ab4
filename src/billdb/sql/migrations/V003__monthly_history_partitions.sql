-- Monthly partitions by request_time for the two history tables (DESIGN.md §2: bill history
-- kept 730 days, KOS history 365 days). Dropping a month is then a DROP TABLE, not a DELETE
-- of millions of rows, and queries over recent months touch only those partitions.
--
-- Key design. A unique index of a partitioned table must contain the partition key, so:
--  * the primary keys become (id, request_time): id stays unique (one sequence), and the
--    pair is what PostgreSQL can enforce per partition;
--  * request_id must stay unique across all months and be the target of the foreign key
--    from KOS history. A small unpartitioned table, bill_request_ids, holds every request_id
--    once (its primary key enforces global uniqueness) with the request's request_time.
--    Triggers keep it in step with bill_inquiry_history: a row is registered on INSERT
--    (a duplicate request_id fails with unique_violation, as before) and unregistered on
--    DELETE; request_id and request_time are immutable. kos_inquiry_history.bill_request_id
--    references bill_request_ids ON DELETE CASCADE, so deleting a request still deletes its
--    KOS calls. A lookup by request_id reads request_time from the registry first, which
--    prunes the history to one partition.
-- Partitions are created ahead by ensure_monthly_partitions() (run by `billdb up` and the
-- scheduler, as the owner role) and dropped by drop_partitions_before() (retention job).

CREATE FUNCTION ensure_monthly_partitions(parent regclass, since timestamptz,
                                          months_ahead integer)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
-- Create the month partitions of `parent` from the month of `since` up to `months_ahead`
-- months after the current one (months in the session's TimeZone); returns those created.
DECLARE
    ns text;
    base text;
    month_start timestamptz := date_trunc('month', least(since, now()));
    last_start timestamptz := date_trunc('month', now()) + make_interval(months => months_ahead);
    part text;
BEGIN
    SELECT n.nspname, c.relname INTO ns, base
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent AND c.relkind = 'p';
    IF base IS NULL THEN
        RAISE EXCEPTION '% is not a partitioned table', parent;
    END IF;
    WHILE month_start <= last_start LOOP
        part := base || '_' || to_char(month_start, 'YYYY_MM');
        IF to_regclass(format('%I.%I', ns, part)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                           ns, part, ns, base, month_start, month_start + interval '1 month');
            RETURN NEXT part;
        END IF;
        month_start := month_start + interval '1 month';
    END LOOP;
END
$$;

CREATE FUNCTION drop_partitions_before(parent regclass, cutoff timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
-- Drop every partition of `parent` whose upper bound is at or before `cutoff` (all its rows
-- are older than the retention); returns the names dropped.
DECLARE
    child record;
BEGIN
    FOR child IN
        SELECT n.nspname AS ns, c.relname AS name,
               substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')
                   ::timestamptz AS upper_bound
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE i.inhparent = parent
         ORDER BY 3
    LOOP
        IF child.upper_bound IS NOT NULL AND child.upper_bound <= cutoff THEN
            EXECUTE format('DROP TABLE %I.%I', child.ns, child.name);
            RETURN NEXT child.name;
        END IF;
    END LOOP;
END
$$;

-- The request_id registry: global uniqueness and the target of KOS history's foreign key.
CREATE TABLE bill_request_ids (
    request_id    varchar(50)  PRIMARY KEY,
    request_time  timestamptz  NOT NULL
);
CREATE INDEX idx_bill_request_ids_request_time ON bill_request_ids (request_time);

CREATE FUNCTION register_bill_request() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO bill_request_ids (request_id, request_time)
    VALUES (NEW.request_id, NEW.request_time);
    RETURN NEW;
END
$$;

CREATE FUNCTION unregister_bill_request() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM bill_request_ids WHERE request_id = OLD.request_id;
    RETURN OLD;
END
$$;

CREATE FUNCTION forbid_request_key_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'request_id and request_time of a bill inquiry cannot change (request %)',
        OLD.request_id USING ERRCODE = 'integrity_constraint_violation';
END
$$;

-- Move the unpartitioned tables aside; index and constraint names are schema-wide, so free them.
ALTER TABLE kos_inquiry_history RENAME TO kos_inquiry_history_v002;
ALTER TABLE bill_inquiry_history RENAME TO bill_inquiry_history_v002;
ALTER TABLE kos_inquiry_history_v002
    RENAME CONSTRAINT kos_inquiry_history_pkey TO kos_inquiry_history_v002_pkey;
ALTER TABLE bill_inquiry_history_v002
    RENAME CONSTRAINT bill_inquiry_history_pkey TO bill_inquiry_history_v002_pkey;
ALTER TABLE bill_inquiry_history_v002
    RENAME CONSTRAINT bill_inquiry_history_request_id_key TO bill_inquiry_history_v002_request_id_key;
DROP INDEX idx_bill_history_user_line, idx_bill_history_request_time, idx_bill_history_status,
    idx_bill_history_inquiry_month, idx_kos_history_line_month, idx_kos_history_request_time,
    idx_kos_history_result_code, idx_kos_history_bill_request;

CREATE TABLE bill_inquiry_history (
    id              bigint       NOT NULL DEFAULT nextval('bill_inquiry_history_id_seq'),
    request_id      varchar(50)  NOT NULL,
    user_id         varchar(50)  NOT NULL,
    line_number     varchar(20)  NOT NULL,
    inquiry_month   varchar(7)   CONSTRAINT bill_inquiry_history_inquiry_month_check
                                 CHECK (inquiry_month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    request_time    timestamptz  NOT NULL DEFAULT now(),
    process_time    timestamptz,
    status          varchar(20)  NOT NULL DEFAULT 'PROCESSING'
                    CONSTRAINT bill_inquiry_history_status_check
                    CHECK (status IN ('PROCESSING', 'COMPLETED', 'FAILED', 'TIMEOUT')),
    result_summary  text,
    bill_info_json  jsonb,
    error_message   text,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (id, request_time)
) PARTITION BY RANGE (request_time);
ALTER SEQUENCE bill_inquiry_history_id_seq OWNED BY bill_inquiry_history.id;
CREATE INDEX idx_bill_history_request_id ON bill_inquiry_history (request_id);
CREATE INDEX idx_bill_history_user_line ON bill_inquiry_history (user_id, line_number);
CREATE INDEX idx_bill_history_line_time ON bill_inquiry_history (line_number, request_time DESC);
CREATE INDEX idx_bill_history_request_time ON bill_inquiry_history (request_time DESC);
CREATE INDEX idx_bill_history_status ON bill_inquiry_history (status);
CREATE INDEX idx_bill_history_inquiry_month ON bill_inquiry_history (inquiry_month);

CREATE TABLE kos_inquiry_history (
    id                     bigint       NOT NULL DEFAULT nextval('kos_inquiry_history_id_seq'),
    bill_request_id        varchar(50)  CONSTRAINT kos_inquiry_history_bill_request_id_fkey
                                        REFERENCES bill_request_ids (request_id) ON DELETE CASCADE,
    line_number            varchar(20)  NOT NULL,
    inquiry_month          varchar(7)   CONSTRAINT kos_inquiry_history_inquiry_month_check
                                        CHECK (inquiry_month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    request_time           timestamptz  NOT NULL DEFAULT now(),
    response_time          timestamptz,
    result_code            varchar(10),
    result_message         text,
    kos_data_json          jsonb,
    error_detail           text,
    retry_count            integer      NOT NULL DEFAULT 0
                                        CONSTRAINT kos_inquiry_history_retry_count_check
                                        CHECK (retry_count >= 0),
    circuit_breaker_state  varchar(10)
                           CONSTRAINT kos_inquiry_history_circuit_breaker_state_check
                           CHECK (circuit_breaker_state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
    created_at             timestamptz  NOT NULL DEFAULT now(),
    updated_at             timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (id, request_time)
) PARTITION BY RANGE (request_time);
ALTER SEQUENCE kos_inquiry_history_id_seq OWNED BY kos_inquiry_history.id;
CREATE INDEX idx_kos_history_line_month ON kos_inquiry_history (line_number, inquiry_month);
CREATE INDEX idx_kos_history_request_time ON kos_inquiry_history (request_time DESC);
CREATE INDEX idx_kos_history_result_code ON kos_inquiry_history (result_code);
CREATE INDEX idx_kos_history_bill_request ON kos_inquiry_history (bill_request_id);

CREATE TRIGGER trg_bill_history_register BEFORE INSERT ON bill_inquiry_history
    FOR EACH ROW EXECUTE FUNCTION register_bill_request();
CREATE TRIGGER trg_bill_history_unregister AFTER DELETE ON bill_inquiry_history
    FOR EACH ROW EXECUTE FUNCTION unregister_bill_request();
CREATE TRIGGER trg_bill_history_key_immutable BEFORE UPDATE OF request_id, request_time
    ON bill_inquiry_history FOR EACH ROW
    WHEN (OLD.request_id IS DISTINCT FROM NEW.request_id
          OR OLD.request_time IS DISTINCT FROM NEW.request_time)
    EXECUTE FUNCTION forbid_request_key_change();
CREATE TRIGGER trg_bill_history_updated_at BEFORE UPDATE ON bill_inquiry_history
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_kos_history_updated_at BEFORE UPDATE ON kos_inquiry_history
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Partitions for the rows already there, the current month and three ahead; then the rows.
SELECT ensure_monthly_partitions('bill_inquiry_history',
    (SELECT coalesce(min(request_time), now()) FROM bill_inquiry_history_v002), 3);
SELECT ensure_monthly_partitions('kos_inquiry_history',
    (SELECT coalesce(min(request_time), now()) FROM kos_inquiry_history_v002), 3);
INSERT INTO bill_inquiry_history
SELECT id, request_id, user_id, line_number, inquiry_month, request_time, process_time, status,
       result_summary, bill_info_json, error_message, created_at, updated_at
  FROM bill_inquiry_history_v002;
INSERT INTO kos_inquiry_history
SELECT id, bill_request_id, line_number, inquiry_month, request_time, response_time, result_code,
       result_message, kos_data_json, error_detail, retry_count, circuit_breaker_state,
       created_at, updated_at
  FROM kos_inquiry_history_v002;
DROP TABLE kos_inquiry_history_v002;
DROP TABLE bill_inquiry_history_v002;
