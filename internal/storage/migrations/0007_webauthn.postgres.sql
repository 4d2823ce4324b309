-- Passkeys (WebAuthn credentials) and the short-lived state of their
-- ceremonies. A credential row holds only public material: the credential
-- id, its public key and what the authenticator reported. A ceremony row
-- holds the challenge between a ceremony's begin and finish; it is keyed
-- by the keyed hash of a cookie, bound to the browser's session (binding),
-- used once and expires within minutes.
CREATE TABLE webauthn_credentials (
    id varchar(64) NOT NULL,
    user_id varchar(64) NOT NULL,
    name varchar(100) NOT NULL,
    credential_id bytea NOT NULL,
    public_key bytea NOT NULL,
    attestation_type varchar(32) DEFAULT '' NOT NULL,
    transports text,
    aaguid bytea,
    sign_count bigint DEFAULT 0 NOT NULL,
    backup_eligible boolean DEFAULT false NOT NULL,
    backup_state boolean DEFAULT false NOT NULL,
    user_verified boolean DEFAULT false NOT NULL,
    passwordless boolean DEFAULT false NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz,
    CONSTRAINT webauthn_credentials_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX idx_webauthn_credentials_credential_id ON webauthn_credentials (credential_id);
CREATE INDEX idx_webauthn_credentials_user_id ON webauthn_credentials (user_id);
CREATE TABLE webauthn_ceremonies (
    id_hash varchar(64) NOT NULL,
    purpose varchar(16) NOT NULL,
    binding varchar(64) DEFAULT '' NOT NULL,
    user_id varchar(64) DEFAULT '' NOT NULL,
    data bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT webauthn_ceremonies_pkey PRIMARY KEY (id_hash)
);
CREATE INDEX idx_webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);
