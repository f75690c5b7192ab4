-- The Bill-Inquiry data model (DESIGN.md §2). Unqualified names: the migration runner sets
-- search_path, and `billdb verify` replays migrations in a scratch schema to compare.

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE customer_info (
    customer_id     varchar(50)  PRIMARY KEY,
    line_number     varchar(20)  NOT NULL UNIQUE,
    customer_name   varchar(100),
    status          varchar(10)  NOT NULL DEFAULT 'ACTIVE'
                    CHECK (status IN ('ACTIVE', 'INACTIVE')),
    operator_code   varchar(10)  NOT NULL,
    cached_at       timestamptz  NOT NULL DEFAULT now(),
    expires_at      timestamptz  NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE bill_inquiry_history (
    id              bigserial    PRIMARY KEY,
    request_id      varchar(50)  NOT NULL UNIQUE,
    user_id         varchar(50)  NOT NULL,
    line_number     varchar(20)  NOT NULL,
    inquiry_month   varchar(7)   CHECK (inquiry_month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    request_time    timestamptz  NOT NULL DEFAULT now(),
    process_time    timestamptz,
    status          varchar(20)  NOT NULL DEFAULT 'PROCESSING'
                    CHECK (status IN ('PROCESSING', 'COMPLETED', 'FAILED', 'TIMEOUT')),
    result_summary  text,
    bill_info_json  jsonb,
    error_message   text,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX idx_bill_history_user_line ON bill_inquiry_history (user_id, line_number);
CREATE INDEX idx_bill_history_request_time ON bill_inquiry_history (request_time DESC);
CREATE INDEX idx_bill_history_status ON bill_inquiry_history (status);
CREATE INDEX idx_bill_history_inquiry_month ON bill_inquiry_history (inquiry_month);

CREATE TABLE kos_inquiry_history (
    id                     bigserial    PRIMARY KEY,
    bill_request_id        varchar(50)  REFERENCES bill_inquiry_history (request_id)
                                        ON DELETE CASCADE,
    line_number            varchar(20)  NOT NULL,
    inquiry_month          varchar(7)   CHECK (inquiry_month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    request_time           timestamptz  NOT NULL DEFAULT now(),
    response_time          timestamptz,
    result_code            varchar(10),
    result_message         text,
    kos_data_json          jsonb,
    error_detail           text,
    retry_count            integer      NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    circuit_breaker_state  varchar(10)
                           CHECK (circuit_breaker_state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
    created_at             timestamptz  NOT NULL DEFAULT now(),
    updated_at             timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX idx_kos_history_line_month ON kos_inquiry_history (line_number, inquiry_month);
CREATE INDEX idx_kos_history_request_time ON kos_inquiry_history (request_time DESC);
CREATE INDEX idx_kos_history_result_code ON kos_inquiry_history (result_code);
CREATE INDEX idx_kos_history_bill_request ON kos_inquiry_history (bill_request_id);

CREATE TABLE bill_info_cache (
    cache_key         varchar(100) PRIMARY KEY,
    line_number       varchar(20)  NOT NULL,
    inquiry_month     varchar(7)   NOT NULL
                      CHECK (inquiry_month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    bill_info_json    jsonb        NOT NULL,
    cached_at         timestamptz  NOT NULL DEFAULT now(),
    expires_at        timestamptz  NOT NULL,
    access_count      integer      NOT NULL DEFAULT 1 CHECK (access_count > 0),
    last_accessed_at  timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX idx_bill_cache_line_month ON bill_info_cache (line_number, inquiry_month);
CREATE INDEX idx_bill_cache_expires_at ON bill_info_cache (expires_at);

CREATE TABLE system_config (
    config_key    varchar(100) PRIMARY KEY,
    config_value  text         NOT NULL,
    description   varchar(500),
    config_type   varchar(20)  NOT NULL DEFAULT 'STRING'
                  CHECK (config_type IN ('STRING', 'INTEGER', 'BOOLEAN', 'JSON')),
    is_active     boolean      NOT NULL DEFAULT true,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now()
);

CREATE TRIGGER trg_customer_info_updated_at BEFORE UPDATE ON customer_info
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_bill_history_updated_at BEFORE UPDATE ON bill_inquiry_history
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_kos_history_updated_at BEFORE UPDATE ON kos_inquiry_history
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_system_config_updated_at BEFORE UPDATE ON system_config
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
