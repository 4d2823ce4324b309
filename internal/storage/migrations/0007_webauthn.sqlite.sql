-- Passkeys (WebAuthn credentials) and the short-lived state of their
-- ceremonies. A credential row holds only public material: the credential
-- id, its public key and what the authenticator reported. A ceremony row
-- holds the challenge between a ceremony's begin and finish; it is keyed
-- by the keyed hash of a cookie, bound to the browser's session (binding),
-- used once and expires within minutes.
CREATE TABLE `webauthn_credentials` (
    `id` text NOT NULL,
    `user_id` text NOT NULL,
    `name` text NOT NULL,
    `credential_id` blob NOT NULL,
    `public_key` blob NOT NULL,
    `attestation_type` text NOT NULL DEFAULT '',
    `transports` text,
    `aaguid` blob,
    `sign_count` integer NOT NULL DEFAULT 0,
    `backup_eligible` numeric NOT NULL DEFAULT false,
    `backup_state` numeric NOT NULL DEFAULT false,
    `user_verified` numeric NOT NULL DEFAULT false,
    `passwordless` numeric NOT NULL DEFAULT false,
    `created_at` datetime NOT NULL,
    `last_used_at` datetime,
    PRIMARY KEY (`id`)
);
CREATE UNIQUE INDEX `idx_webauthn_credentials_credential_id` ON `webauthn_credentials`(`credential_id`);
CREATE INDEX `idx_webauthn_credentials_user_id` ON `webauthn_credentials`(`user_id`);
CREATE TABLE `webauthn_ceremonies` (
    `id_hash` text NOT NULL,
    `purpose` text NOT NULL,
    `binding` text NOT NULL DEFAULT '',
    `user_id` text NOT NULL DEFAULT '',
    `data` blob NOT NULL,
    `expires_at` datetime NOT NULL,
    `created_at` datetime NOT NULL,
    PRIMARY KEY (`id_hash`)
);
CREATE INDEX `idx_webauthn_ceremonies_expires_at` ON `webauthn_ceremonies`(`expires_at`);
