-- The schema gorm's AutoMigrate created from the models up to version 1,
-- written out so that a database made either way is the same.
CREATE TABLE clients (
    id varchar(64) NOT NULL,
    name varchar(200) NOT NULL,
    secret_hash varchar(255),
    redirect_uris text,
    grant_types text,
    response_types text,
    scopes text,
    audience text,
    public boolean DEFAULT false NOT NULL,
    first_party boolean DEFAULT false NOT NULL,
    access_token_format varchar(16) DEFAULT 'opaque' NOT NULL,
    legacy_sunset timestamptz,
    legacy_deprecated_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT clients_pkey PRIMARY KEY (id)
);
CREATE TABLE users (
    id varchar(64) NOT NULL,
    username varchar(200) NOT NULL,
    email varchar(320) NOT NULL,
    name varchar(200),
    password_hash varchar(255) NOT NULL,
    admin boolean DEFAULT false NOT NULL,
    security_token_hash varchar(64),
    token_issued_at timestamptz,
    password_changed_at timestamptz,
    legacy_failures bigint DEFAULT 0 NOT NULL,
    legacy_locked_until timestamptz,
    login_failures bigint DEFAULT 0 NOT NULL,
    login_locked_until timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX idx_users_security_token_hash ON users (security_token_hash);
CREATE UNIQUE INDEX idx_users_username ON users (username);
CREATE TABLE security_token_histories (
    hash varchar(64) NOT NULL,
    user_id varchar(64) NOT NULL,
    created_at timestamptz,
    CONSTRAINT security_token_histories_pkey PRIMARY KEY (hash)
);
CREATE INDEX idx_security_token_histories_user_id ON security_token_histories (user_id);
CREATE TABLE oauth_requests (
    kind varchar(16) NOT NULL,
    signature varchar(512) NOT NULL,
    request_id varchar(64) NOT NULL,
    access_signature varchar(512),
    client_id varchar(64) NOT NULL,
    subject varchar(255),
    requested_at timestamptz,
    expires_at timestamptz,
    active boolean DEFAULT true NOT NULL,
    data bytea NOT NULL,
    CONSTRAINT oauth_requests_pkey PRIMARY KEY (kind, signature)
);
CREATE INDEX idx_oauth_requests_client_id ON oauth_requests (client_id);
CREATE INDEX idx_oauth_requests_expires_at ON oauth_requests (expires_at);
CREATE INDEX idx_oauth_requests_request_id ON oauth_requests (request_id);
CREATE INDEX idx_oauth_requests_subject ON oauth_requests (subject);
CREATE TABLE signing_keys (
    id varchar(64) NOT NULL,
    algorithm varchar(16) NOT NULL,
    public_pem text NOT NULL,
    private_sealed bytea NOT NULL,
    current boolean DEFAULT false NOT NULL,
    created_at timestamptz,
    retired_at timestamptz,
    expires_at timestamptz,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_signing_keys_current ON signing_keys (current);
CREATE TABLE login_sessions (
    id_hash varchar(64) NOT NULL,
    user_id varchar(64) NOT NULL,
    auth_time timestamptz,
    expires_at timestamptz,
    csrf_secret varchar(64) NOT NULL,
    created_at timestamptz,
    CONSTRAINT login_sessions_pkey PRIMARY KEY (id_hash)
);
CREATE INDEX idx_login_sessions_expires_at ON login_sessions (expires_at);
CREATE INDEX idx_login_sessions_user_id ON login_sessions (user_id);
CREATE TABLE consents (
    user_id varchar(64) NOT NULL,
    client_id varchar(64) NOT NULL,
    scopes text,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT consents_pkey PRIMARY KEY (user_id, client_id)
);
CREATE TABLE trusted_ranges (
    cidr varchar(64) NOT NULL,
    description varchar(200),
    created_at timestamptz,
    CONSTRAINT trusted_ranges_pkey PRIMARY KEY (cidr)
);
CREATE TABLE login_events (
    id bigserial NOT NULL,
    "time" timestamptz NOT NULL,
    user_id varchar(64),
    username varchar(200),
    client_id varchar(64),
    source_ip varchar(64),
    method varchar(32) NOT NULL,
    result varchar(64) NOT NULL,
    user_agent varchar(512),
    CONSTRAINT login_events_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_login_events_client_id ON login_events (client_id);
CREATE INDEX idx_login_events_result ON login_events (result);
CREATE INDEX idx_login_events_time ON login_events ("time");
CREATE INDEX idx_login_events_user_id ON login_events (user_id);
CREATE INDEX idx_login_events_username ON login_events (username);
CREATE TABLE audit_entries (
    id bigserial NOT NULL,
    "time" timestamptz NOT NULL,
    actor varchar(200) NOT NULL,
    action varchar(64) NOT NULL,
    target varchar(200),
    detail text,
    CONSTRAINT audit_entries_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_audit_entries_action ON audit_entries (action);
CREATE INDEX idx_audit_entries_time ON audit_entries ("time");
CREATE TABLE mail_messages (
    id bigserial NOT NULL,
    "to" varchar(320) NOT NULL,
    subject varchar(300) NOT NULL,
    body_sealed bytea NOT NULL,
    attempts bigint DEFAULT 0 NOT NULL,
    next_attempt timestamptz NOT NULL,
    claimed_until timestamptz,
    last_error text,
    failed boolean DEFAULT false NOT NULL,
    created_at timestamptz,
    CONSTRAINT mail_messages_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_mail_messages_failed ON mail_messages (failed);
CREATE INDEX idx_mail_messages_next_attempt ON mail_messages (next_attempt);
