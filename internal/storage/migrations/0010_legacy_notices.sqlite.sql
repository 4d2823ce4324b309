-- One row per sunset notice sent: a client, a user, the sunset it
-- announced and the milestone (days before it). The primary key makes the
-- insert that claims a notice fail for every replica but one, so each user
-- gets each notice once however many replicas run.
CREATE TABLE `legacy_notices` (`client_id` text NOT NULL,`user_id` text NOT NULL,`sunset` datetime NOT NULL,`days` integer NOT NULL,`sent_at` datetime NOT NULL,PRIMARY KEY (`client_id`,`user_id`,`sunset`,`days`));
