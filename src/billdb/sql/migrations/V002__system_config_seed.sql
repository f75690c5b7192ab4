-- The service's initial configuration (DESIGN.md §2 seed rows).
INSERT INTO system_config (config_key, config_value, description, config_type) VALUES
    ('bill.cache.ttl.hours', '4', 'Bill cache lifetime in hours', 'INTEGER'),
    ('bill.customer.cache.ttl.hours', '1', 'Customer info cache lifetime in hours', 'INTEGER'),
    ('bill.inquiry.available.months', '24', 'How many months back a bill can be queried', 'INTEGER'),
    ('kos.connection.timeout.ms', '30000', 'KOS connect timeout', 'INTEGER'),
    ('kos.read.timeout.ms', '60000', 'KOS read timeout', 'INTEGER'),
    ('kos.retry.max.attempts', '3', 'KOS retries', 'INTEGER'),
    ('kos.retry.delay.ms', '1000', 'Delay between KOS retries', 'INTEGER'),
    ('circuit.breaker.failure.threshold', '5', 'Failures that open the circuit', 'INTEGER'),
    ('circuit.breaker.recovery.timeout.ms', '60000', 'Open circuit wait before half-open', 'INTEGER'),
    ('circuit.breaker.success.threshold', '3', 'Successes that close the circuit', 'INTEGER'),
    ('mvno.connection.timeout.ms', '10000', 'MVNO connect timeout', 'INTEGER'),
    ('bill.history.retention.days', '730', 'Bill inquiry history retention', 'INTEGER'),
    ('kos.history.retention.days', '365', 'KOS inquiry history retention', 'INTEGER')
ON CONFLICT (config_key) DO NOTHING;
