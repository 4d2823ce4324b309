-- The tokens the password grant issued, indexed on their own: the janitor
-- deletes them all under the global switch (and a client's when it may no
-- longer use the grant). Without this index that delete read the whole
-- token table on every janitor run of every replica. Partial, so that
-- tokens of other grants (client credentials, the code flow: most rows)
-- cost nothing more to insert.
CREATE INDEX idx_oauth_requests_password_grants ON oauth_requests (client_id) WHERE origin LIKE 'password+%';
