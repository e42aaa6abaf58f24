DROP INDEX users_search_key_stale;
ALTER TABLE users DROP COLUMN search_key_version;
ALTER TABLE users DROP COLUMN search_key;
