DROP INDEX api_keys_previous_secret;
ALTER TABLE api_keys DROP COLUMN previous_secret_expires_at;
ALTER TABLE api_keys DROP COLUMN previous_secret_hash;
ALTER TABLE api_keys DROP COLUMN expires_at;
