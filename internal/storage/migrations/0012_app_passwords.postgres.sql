-- App passwords: many named credentials per user, each for one
-- integration, used in the password grant in place of password + security
-- token. Only the keyed hash of a value is kept. A client says which
-- legacy credentials it accepts (token, app_password or both), and the
-- login history names the app password a password grant used.
CREATE TABLE app_passwords (
    id varchar(64) NOT NULL,
    user_id varchar(64) NOT NULL,
    name varchar(100) NOT NULL,
    client_id varchar(64) DEFAULT '' NOT NULL,
    scopes text,
    hash varchar(64) NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    last_used_at timestamptz,
    last_used_client varchar(64) DEFAULT '' NOT NULL,
    last_used_ip varchar(64) DEFAULT '' NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT app_passwords_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX idx_app_passwords_hash ON app_passwords (hash);
CREATE INDEX idx_app_passwords_user_id ON app_passwords (user_id);
CREATE INDEX idx_app_passwords_client_id ON app_passwords (client_id);
ALTER TABLE clients ADD COLUMN legacy_credentials varchar(16) DEFAULT 'token' NOT NULL;
ALTER TABLE login_events ADD COLUMN app_password varchar(100) DEFAULT '' NOT NULL;
