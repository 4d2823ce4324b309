-- Logout (OpenID Connect RP-initiated, back-channel and front-channel
-- logout 1.0). Each client may register where it wants to be sent after a
-- logout it started and where it is told of a logout; each browser session
-- gets a public id (the ID token's sid, never the cookie), remembers the
-- browser and address it began from and when it was last used, and lists
-- the clients it signed in to; logout tokens wait in an outbox until the
-- client's back-channel endpoint accepts them.
ALTER TABLE `clients` ADD COLUMN `post_logout_redirect_uris` text;
ALTER TABLE `clients` ADD COLUMN `backchannel_logout_uri` text NOT NULL DEFAULT '';
ALTER TABLE `clients` ADD COLUMN `backchannel_logout_session_required` numeric NOT NULL DEFAULT false;
ALTER TABLE `clients` ADD COLUMN `frontchannel_logout_uri` text NOT NULL DEFAULT '';
ALTER TABLE `clients` ADD COLUMN `frontchannel_logout_session_required` numeric NOT NULL DEFAULT false;
ALTER TABLE `login_sessions` ADD COLUMN `sid` text NOT NULL DEFAULT '';
ALTER TABLE `login_sessions` ADD COLUMN `surface` text NOT NULL DEFAULT '';
ALTER TABLE `login_sessions` ADD COLUMN `user_agent` text NOT NULL DEFAULT '';
ALTER TABLE `login_sessions` ADD COLUMN `source_ip` text NOT NULL DEFAULT '';
ALTER TABLE `login_sessions` ADD COLUMN `last_seen_at` datetime;
CREATE INDEX `idx_login_sessions_sid` ON `login_sessions` (`sid`);
CREATE TABLE `session_clients` (
    `sid` text NOT NULL,
    `client_id` text NOT NULL,
    `user_id` text NOT NULL,
    `created_at` datetime NOT NULL,
    PRIMARY KEY (`sid`, `client_id`)
);
CREATE INDEX `idx_session_clients_client_id` ON `session_clients` (`client_id`);
CREATE TABLE `logout_deliveries` (
    `id` integer PRIMARY KEY AUTOINCREMENT,
    `jti` text NOT NULL,
    `client_id` text NOT NULL,
    `uri` text NOT NULL,
    `subject` text NOT NULL,
    `sid` text NOT NULL,
    `attempts` integer NOT NULL DEFAULT 0,
    `next_attempt` datetime NOT NULL,
    `claimed_until` datetime,
    `last_error` text,
    `failed` numeric NOT NULL DEFAULT false,
    `created_at` datetime NOT NULL
);
CREATE INDEX `idx_logout_deliveries_next_attempt` ON `logout_deliveries` (`next_attempt`);
CREATE INDEX `idx_logout_deliveries_failed` ON `logout_deliveries` (`failed`);
