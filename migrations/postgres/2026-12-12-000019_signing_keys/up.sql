-- The fleet's registry of token signing keys (`src/db/signing_keys.rs`): the public half of each
-- instance's key, so that a token signed by one instance verifies on all of them. A retired key
-- stays, so that an instance still holding it cannot publish it again.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    public_x TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);
