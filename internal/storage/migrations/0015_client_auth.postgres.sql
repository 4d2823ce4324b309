-- Client authentication beyond shared secrets and pushed authorization
-- requests. A client says how it authenticates (client_secret_basic,
-- client_secret_post, private_key_jwt or none) and, for private_key_jwt,
-- its algorithm and its keys (inline or by URI); it may require pushed
-- authorization requests and PKCE. Existing clients keep their behaviour:
-- secrets (none for public clients), no PAR, PKCE as before.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method varchar(32) DEFAULT 'client_secret_basic' NOT NULL;
ALTER TABLE clients ADD COLUMN token_endpoint_auth_signing_alg varchar(16) DEFAULT '' NOT NULL;
ALTER TABLE clients ADD COLUMN jwks text DEFAULT '' NOT NULL;
ALTER TABLE clients ADD COLUMN jwks_uri varchar(2000) DEFAULT '' NOT NULL;
ALTER TABLE clients ADD COLUMN require_par boolean DEFAULT false NOT NULL;
ALTER TABLE clients ADD COLUMN require_pkce boolean DEFAULT false NOT NULL;
UPDATE clients SET token_endpoint_auth_method = 'none' WHERE public;
-- The jti of every accepted client assertion, as a keyed hash, until the
-- assertion expires: the primary key lets one replica accept it, once.
CREATE TABLE client_assertion_jtis (
    jti_hash varchar(64) NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT client_assertion_jtis_pkey PRIMARY KEY (jti_hash)
);
CREATE INDEX idx_client_assertion_jtis_expires_at ON client_assertion_jtis (expires_at);
-- Pushed authorization requests, by the keyed hash of their request_uri,
-- until used or expired; any replica can redeem one, once.
CREATE TABLE pushed_auth_requests (
    request_uri_hash varchar(64) NOT NULL,
    client_id varchar(64) NOT NULL,
    data bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT pushed_auth_requests_pkey PRIMARY KEY (request_uri_hash)
);
CREATE INDEX idx_pushed_auth_requests_client_id ON pushed_auth_requests (client_id);
CREATE INDEX idx_pushed_auth_requests_expires_at ON pushed_auth_requests (expires_at);
