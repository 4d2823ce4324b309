-- Device authorization requests (RFC 8628). The device code and the user
-- code are kept only as keyed hashes; status is pending, approved, denied
-- or redeemed, and moves on only by conditional updates, so that a code
-- is decided once and redeemed once.
CREATE TABLE device_codes (
    device_code_hash varchar(64) NOT NULL,
    user_code_hash varchar(64) NOT NULL,
    client_id varchar(64) NOT NULL,
    scopes text,
    status varchar(16) NOT NULL,
    user_id varchar(64),
    auth_time timestamptz,
    decided_at timestamptz,
    source_ip varchar(64),
    user_agent varchar(512),
    approver_ip varchar(64),
    poll_interval bigint NOT NULL,
    polls bigint NOT NULL,
    last_polled_at timestamptz,
    created_at timestamptz,
    expires_at timestamptz NOT NULL,
    CONSTRAINT device_codes_pkey PRIMARY KEY (device_code_hash)
);
CREATE UNIQUE INDEX idx_device_codes_user_code_hash ON device_codes (user_code_hash);
CREATE INDEX idx_device_codes_client_id ON device_codes (client_id);
CREATE INDEX idx_device_codes_user_id ON device_codes (user_id);
CREATE INDEX idx_device_codes_expires_at ON device_codes (expires_at);
