-- Email links: a password reset, an address verification or an email
-- change, each a single-use link that expires. Only the keyed hash of the
-- link's token is kept. A user's email_verified says the address was
-- confirmed by following a link (or marked so by an administrator).
CREATE TABLE email_tokens (
    hash varchar(64) NOT NULL,
    user_id varchar(64) NOT NULL,
    purpose varchar(16) NOT NULL,
    email varchar(320) DEFAULT '' NOT NULL,
    source_ip varchar(64) DEFAULT '' NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    CONSTRAINT email_tokens_pkey PRIMARY KEY (hash)
);
CREATE INDEX idx_email_tokens_user ON email_tokens (user_id, purpose, created_at);
CREATE INDEX idx_email_tokens_expires_at ON email_tokens (expires_at);
ALTER TABLE users ADD COLUMN email_verified boolean DEFAULT false NOT NULL;
-- Salesforce-compatible password grant responses, per client (off by
-- default): id, instance_url, issued_at and signature.
ALTER TABLE clients ADD COLUMN salesforce_compat boolean DEFAULT false NOT NULL;
ALTER TABLE clients ADD COLUMN instance_url varchar(2048) DEFAULT '' NOT NULL;
