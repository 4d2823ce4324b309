-- Multi-factor authentication.
--
-- totp_factors holds a user's TOTP secret (RFC 6238), sealed with the system
-- secret. confirmed_at is NULL while the enrolment waits for its first code:
-- a pending enrolment is no factor. last_step is the last time step a code
-- was accepted for; a code is accepted only by the conditional UPDATE that
-- raises it, so each code works once across replicas.
CREATE TABLE totp_factors (
    user_id varchar(64) NOT NULL,
    secret_sealed bytea NOT NULL,
    last_step bigint DEFAULT 0 NOT NULL,
    confirmed_at timestamptz,
    last_used_at timestamptz,
    created_at timestamptz NOT NULL,
    CONSTRAINT totp_factors_pkey PRIMARY KEY (user_id)
);
-- recovery_codes: one-time codes, stored as keyed hashes; used_at is set by
-- the conditional UPDATE that accepts one.
CREATE TABLE recovery_codes (
    user_id varchar(64) NOT NULL,
    code_hash varchar(64) NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL,
    CONSTRAINT recovery_codes_pkey PRIMARY KEY (user_id, code_hash)
);
-- second_steps: a browser that passed the password and owes a second factor
-- (or an enrolment the policy requires), keyed by the keyed hash of its
-- cookie. state is scratch space of a factor (a WebAuthn challenge).
CREATE TABLE second_steps (
    id_hash varchar(64) NOT NULL,
    user_id varchar(64) NOT NULL,
    client_id varchar(64) DEFAULT '' NOT NULL,
    return_to text NOT NULL,
    enrol boolean DEFAULT false NOT NULL,
    state text DEFAULT '' NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT second_steps_pkey PRIMARY KEY (id_hash)
);
CREATE INDEX idx_second_steps_user_id ON second_steps (user_id);
CREATE INDEX idx_second_steps_expires_at ON second_steps (expires_at);
-- How a browser session signed in (RFC 8176 amr values, space-separated).
ALTER TABLE login_sessions ADD COLUMN amr varchar(64) DEFAULT '' NOT NULL;
-- Which factor an attempt used or failed.
ALTER TABLE login_events ADD COLUMN factor varchar(32) DEFAULT '' NOT NULL;
-- Policies: this user, or every user of this client, must use MFA.
ALTER TABLE users ADD COLUMN require_mfa boolean DEFAULT false NOT NULL;
ALTER TABLE clients ADD COLUMN require_mfa boolean DEFAULT false NOT NULL;
