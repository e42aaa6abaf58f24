-- API keys grow up (`src/db/api_keys.rs`): an optional expiry, after which the key answers 401;
-- and a roll, which moves the current secret's hash to `previous_secret_hash`, valid until
-- `previous_secret_expires_at` (the grace period), while a new secret takes its place.
ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE api_keys ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE api_keys ADD COLUMN previous_secret_expires_at TIMESTAMP;
CREATE INDEX api_keys_previous_secret ON api_keys (previous_secret_hash);
