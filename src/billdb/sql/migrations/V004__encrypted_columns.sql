-- Column encryption (plan security.column_encryption, seed §10.2): the application encrypts
-- customer_info.customer_name and the bill JSON of bill_inquiry_history and bill_info_cache
-- with AES-256-GCM before they reach the server (billdb.client.crypto). A stored value is an
-- envelope "v1:<key id>:<base64url(nonce | ciphertext | tag)>": the key id names the key of
-- the keyring that sealed it, so keys can rotate row by row. Ciphertext is text, not jsonb
-- (the server cannot parse it) and longer than the clear value (customer_name was
-- varchar(100)). The CHECKs refuse a clear value, so a client that forgets to encrypt fails
-- loudly instead of leaking.
ALTER TABLE customer_info ALTER COLUMN customer_name TYPE text;
ALTER TABLE customer_info ADD CONSTRAINT customer_info_customer_name_encrypted
    CHECK (customer_name ~ '^v1:k[0-9]+:[A-Za-z0-9_-]{38,}$');

ALTER TABLE bill_inquiry_history ALTER COLUMN bill_info_json TYPE text;
ALTER TABLE bill_inquiry_history ADD CONSTRAINT bill_inquiry_history_bill_info_json_encrypted
    CHECK (bill_info_json ~ '^v1:k[0-9]+:[A-Za-z0-9_-]{38,}$');

ALTER TABLE bill_info_cache ALTER COLUMN bill_info_json TYPE text;
ALTER TABLE bill_info_cache ADD CONSTRAINT bill_info_cache_bill_info_json_encrypted
    CHECK (bill_info_json ~ '^v1:k[0-9]+:[A-Za-z0-9_-]{38,}$');
