-- Email links: a password reset, an address verification or an email
-- change, each a single-use link that expires. Only the keyed hash of the
-- link's token is kept. A user's email_verified says the address was
-- confirmed by following a link (or marked so by an administrator).
CREATE TABLE `email_tokens` (
    `hash` text NOT NULL,
    `user_id` text NOT NULL,
    `purpose` text NOT NULL,
    `email` text NOT NULL DEFAULT '',
    `source_ip` text NOT NULL DEFAULT '',
    `created_at` datetime NOT NULL,
    `expires_at` datetime NOT NULL,
    `used_at` datetime,
    PRIMARY KEY (`hash`)
);
CREATE INDEX `idx_email_tokens_user` ON `email_tokens` (`user_id`, `purpose`, `created_at`);
CREATE INDEX `idx_email_tokens_expires_at` ON `email_tokens` (`expires_at`);
ALTER TABLE `users` ADD COLUMN `email_verified` numeric NOT NULL DEFAULT false;
-- Salesforce-compatible password grant responses, per client (off by
-- default): id, instance_url, issued_at and signature.
ALTER TABLE `clients` ADD COLUMN `salesforce_compat` numeric NOT NULL DEFAULT false;
ALTER TABLE `clients` ADD COLUMN `instance_url` text NOT NULL DEFAULT '';
