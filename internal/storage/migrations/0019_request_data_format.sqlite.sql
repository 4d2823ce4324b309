-- From this version on a stored request (oauth_requests.data) may be in
-- a binary form (first byte 0x01) that earlier versions cannot read:
-- this migration makes them refuse the database (ErrSchemaTooNew), so no
-- earlier replica answers for a token it would fail to decode. Rows
-- written as JSON (first byte '{') are read as before. SQLite has no
-- column comments; the migration only records the version.
SELECT 1;
