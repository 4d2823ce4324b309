-- Signing algorithms and pre-published rotation. A client chooses the
-- algorithm of its ID tokens (and logout tokens) and of its JWT access
-- tokens; a queued logout token remembers the algorithm it is signed with.
-- A signing key's state becomes a function of time: it signs from
-- activates_at until retired_at, so that a rotated key can be published
-- before any replica signs with it; the current flag goes.
ALTER TABLE `clients` ADD COLUMN `id_token_signed_response_alg` text NOT NULL DEFAULT 'RS256';
ALTER TABLE `clients` ADD COLUMN `access_token_signed_response_alg` text NOT NULL DEFAULT 'RS256';
ALTER TABLE `logout_deliveries` ADD COLUMN `alg` text NOT NULL DEFAULT 'RS256';
ALTER TABLE `signing_keys` ADD COLUMN `activates_at` datetime;
UPDATE `signing_keys` SET `activates_at` = `created_at`;
DROP INDEX `idx_signing_keys_current`;
ALTER TABLE `signing_keys` DROP COLUMN `current`;
