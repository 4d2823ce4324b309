-- Device authorization requests (RFC 8628). The device code and the user
-- code are kept only as keyed hashes; status is pending, approved, denied
-- or redeemed, and moves on only by conditional updates, so that a code
-- is decided once and redeemed once.
CREATE TABLE `device_codes` (
    `device_code_hash` text NOT NULL,
    `user_code_hash` text NOT NULL,
    `client_id` text NOT NULL,
    `scopes` text,
    `status` text NOT NULL,
    `user_id` text,
    `auth_time` datetime,
    `decided_at` datetime,
    `source_ip` text,
    `user_agent` text,
    `approver_ip` text,
    `poll_interval` integer NOT NULL,
    `polls` integer NOT NULL,
    `last_polled_at` datetime,
    `created_at` datetime,
    `expires_at` datetime NOT NULL,
    PRIMARY KEY (`device_code_hash`)
);
CREATE UNIQUE INDEX `idx_device_codes_user_code_hash` ON `device_codes` (`user_code_hash`);
CREATE INDEX `idx_device_codes_client_id` ON `device_codes` (`client_id`);
CREATE INDEX `idx_device_codes_user_id` ON `device_codes` (`user_id`);
CREATE INDEX `idx_device_codes_expires_at` ON `device_codes` (`expires_at`);
