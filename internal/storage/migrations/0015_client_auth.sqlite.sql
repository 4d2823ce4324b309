-- Client authentication beyond shared secrets and pushed authorization
-- requests. A client says how it authenticates (client_secret_basic,
-- client_secret_post, private_key_jwt or none) and, for private_key_jwt,
-- its algorithm and its keys (inline or by URI); it may require pushed
-- authorization requests and PKCE. Existing clients keep their behaviour:
-- secrets (none for public clients), no PAR, PKCE as before.
ALTER TABLE `clients` ADD COLUMN `token_endpoint_auth_method` text NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE `clients` ADD COLUMN `token_endpoint_auth_signing_alg` text NOT NULL DEFAULT '';
ALTER TABLE `clients` ADD COLUMN `jwks` text NOT NULL DEFAULT '';
ALTER TABLE `clients` ADD COLUMN `jwks_uri` text NOT NULL DEFAULT '';
ALTER TABLE `clients` ADD COLUMN `require_par` numeric NOT NULL DEFAULT false;
ALTER TABLE `clients` ADD COLUMN `require_pkce` numeric NOT NULL DEFAULT false;
UPDATE `clients` SET `token_endpoint_auth_method` = 'none' WHERE `public`;
-- The jti of every accepted client assertion, as a keyed hash, until the
-- assertion expires: the primary key lets one replica accept it, once.
CREATE TABLE `client_assertion_jtis` (
    `jti_hash` text NOT NULL,
    `expires_at` datetime NOT NULL,
    PRIMARY KEY (`jti_hash`)
);
CREATE INDEX `idx_client_assertion_jtis_expires_at` ON `client_assertion_jtis` (`expires_at`);
-- Pushed authorization requests, by the keyed hash of their request_uri,
-- until used or expired; any replica can redeem one, once.
CREATE TABLE `pushed_auth_requests` (
    `request_uri_hash` text NOT NULL,
    `client_id` text NOT NULL,
    `data` blob NOT NULL,
    `created_at` datetime NOT NULL,
    `expires_at` datetime NOT NULL,
    PRIMARY KEY (`request_uri_hash`)
);
CREATE INDEX `idx_pushed_auth_requests_client_id` ON `pushed_auth_requests` (`client_id`);
CREATE INDEX `idx_pushed_auth_requests_expires_at` ON `pushed_auth_requests` (`expires_at`);
