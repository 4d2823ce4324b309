-- Sign-in attempts counted per user, counter and source (an IPv4 address
-- or an IPv6 /64), so that failures from one source lock only that source.
-- pending counts attempts being verified, failures the consecutive
-- failures; together they never pass the threshold. user_id is a user's id
-- or, for a username no user has, a key derived from it (unknown users are
-- counted like known ones, so that neither timing nor locking tells them
-- apart); rows of deleted users go with the daily prune.
CREATE TABLE `signin_attempts` (
    `user_id` text NOT NULL,
    `counter` integer NOT NULL,
    `source` text NOT NULL,
    `failures` integer NOT NULL,
    `pending` integer NOT NULL,
    `pending_since` datetime NOT NULL,
    `locked_until` datetime,
    `updated_at` datetime NOT NULL,
    PRIMARY KEY (`user_id`, `counter`, `source`)
);
CREATE INDEX `idx_signin_attempts_updated_at` ON `signin_attempts` (`updated_at`);
