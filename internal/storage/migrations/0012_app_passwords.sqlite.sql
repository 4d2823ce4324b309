-- App passwords: many named credentials per user, each for one
-- integration, used in the password grant in place of password + security
-- token. Only the keyed hash of a value is kept. A client says which
-- legacy credentials it accepts (token, app_password or both), and the
-- login history names the app password a password grant used.
CREATE TABLE `app_passwords` (
    `id` text NOT NULL,
    `user_id` text NOT NULL,
    `name` text NOT NULL,
    `client_id` text NOT NULL DEFAULT '',
    `scopes` text,
    `hash` text NOT NULL,
    `created_at` datetime NOT NULL,
    `expires_at` datetime,
    `last_used_at` datetime,
    `last_used_client` text NOT NULL DEFAULT '',
    `last_used_ip` text NOT NULL DEFAULT '',
    `revoked_at` datetime,
    PRIMARY KEY (`id`)
);
CREATE UNIQUE INDEX `idx_app_passwords_hash` ON `app_passwords` (`hash`);
CREATE INDEX `idx_app_passwords_user_id` ON `app_passwords` (`user_id`);
CREATE INDEX `idx_app_passwords_client_id` ON `app_passwords` (`client_id`);
ALTER TABLE `clients` ADD COLUMN `legacy_credentials` text NOT NULL DEFAULT 'token';
ALTER TABLE `login_events` ADD COLUMN `app_password` text NOT NULL DEFAULT '';
