-- login_sessions.csrf_secret was written and never read.
ALTER TABLE login_sessions DROP COLUMN csrf_secret;
