-- What `GET /v1/users?q=` matches: the display name, first name, last name and address, each
-- case-folded in Rust (`domain::SearchKey`) and on a line of its own, so that matching is the
-- same on every database and covers all of Unicode. `search_key_version` is the row's `version`
-- the key was derived at: every write of this version stores both, so a key is current exactly
-- when the two versions agree. Rows stored before this migration (NULL), or changed since by an
-- older version (which moves `version` only), are found by the partial index and derived again
-- by `db::search_keys::backfill` when the database is opened. Queries spell the predicate out
-- literally.
ALTER TABLE users ADD COLUMN search_key TEXT;
ALTER TABLE users ADD COLUMN search_key_version BIGINT;
CREATE INDEX users_search_key_stale ON users (id) WHERE search_key_version IS DISTINCT FROM version;
