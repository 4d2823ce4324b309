-- Brownouts: windows before a client's sunset during which the legacy
-- password grant is refused, so that owners discover what still depends on
-- it while there is still time. legacy_migration_url on the client says
-- where to read how to move off the grant.
CREATE TABLE `client_brownouts` (`id` integer PRIMARY KEY AUTOINCREMENT,`client_id` text NOT NULL,`starts_at` datetime NOT NULL,`ends_at` datetime NOT NULL,`created_by` text NOT NULL,`created_at` datetime NOT NULL);
CREATE INDEX `idx_client_brownouts_client_id` ON `client_brownouts`(`client_id`,`starts_at`);
ALTER TABLE `clients` ADD COLUMN `legacy_migration_url` text NOT NULL DEFAULT '';
