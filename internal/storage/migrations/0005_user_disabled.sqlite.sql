-- A disabled user keeps its account but cannot sign in on any channel.
ALTER TABLE `users` ADD COLUMN `disabled` numeric NOT NULL DEFAULT false;
