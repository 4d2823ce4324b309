-- A disabled user keeps its account but cannot sign in on any channel.
ALTER TABLE users ADD COLUMN disabled boolean DEFAULT false NOT NULL;
