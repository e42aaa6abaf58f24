-- The fleet's secrets key (`src/db/secrets_key.rs`): the id of the key every instance seals
-- TOTP secrets with, in one row. An instance whose key is another refuses to start, so that
-- instances on one database never seal with different keys.
CREATE TABLE fleet_secrets_key (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    key_id TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
