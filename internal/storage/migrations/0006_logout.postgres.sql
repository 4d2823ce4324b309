-- Logout (OpenID Connect RP-initiated, back-channel and front-channel
-- logout 1.0). Each client may register where it wants to be sent after a
-- logout it started and where it is told of a logout; each browser session
-- gets a public id (the ID token's sid, never the cookie), remembers the
-- browser and address it began from and when it was last used, and lists
-- the clients it signed in to; logout tokens wait in an outbox until the
-- client's back-channel endpoint accepts them.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris text;
ALTER TABLE clients ADD COLUMN backchannel_logout_uri varchar(2000) DEFAULT '' NOT NULL;
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required boolean DEFAULT false NOT NULL;
ALTER TABLE clients ADD COLUMN frontchannel_logout_uri varchar(2000) DEFAULT '' NOT NULL;
ALTER TABLE clients ADD COLUMN frontchannel_logout_session_required boolean DEFAULT false NOT NULL;
ALTER TABLE login_sessions ADD COLUMN sid varchar(64) DEFAULT '' NOT NULL;
ALTER TABLE login_sessions ADD COLUMN surface varchar(32) DEFAULT '' NOT NULL;
ALTER TABLE login_sessions ADD COLUMN user_agent varchar(512) DEFAULT '' NOT NULL;
ALTER TABLE login_sessions ADD COLUMN source_ip varchar(64) DEFAULT '' NOT NULL;
ALTER TABLE login_sessions ADD COLUMN last_seen_at timestamptz;
CREATE INDEX idx_login_sessions_sid ON login_sessions (sid);
CREATE TABLE session_clients (
    sid varchar(64) NOT NULL,
    client_id varchar(64) NOT NULL,
    user_id varchar(64) NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT session_clients_pkey PRIMARY KEY (sid, client_id)
);
CREATE INDEX idx_session_clients_client_id ON session_clients (client_id);
CREATE TABLE logout_deliveries (
    id bigserial NOT NULL,
    jti varchar(64) NOT NULL,
    client_id varchar(64) NOT NULL,
    uri varchar(2000) NOT NULL,
    subject varchar(255) NOT NULL,
    sid varchar(64) NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt timestamptz NOT NULL,
    claimed_until timestamptz,
    last_error text,
    failed boolean DEFAULT false NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT logout_deliveries_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_logout_deliveries_next_attempt ON logout_deliveries (next_attempt);
CREATE INDEX idx_logout_deliveries_failed ON logout_deliveries (failed);
