-- How each grant began (the code flow, or the password grant admitted by a
-- security token or a trusted range), so that ending a credential can
-- revoke what it obtained.
ALTER TABLE oauth_requests ADD COLUMN origin varchar(32) DEFAULT '' NOT NULL;
