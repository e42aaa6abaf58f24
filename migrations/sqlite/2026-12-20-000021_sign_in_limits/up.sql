-- Sign-in limits shared by every instance on one database (`src/db/sign_in_limits.rs`): one
-- GCRA bucket per key (an account or a client address, hashed), as its "theoretical arrival
-- time". A key without a row has a full bucket, and so has a row whose `tat` has passed: the
-- retention sweeper deletes those, by the index on `tat`. Only PostgreSQL uses it; SQLite, one
-- process, keeps its limits in memory, and has the table so that both backends share one schema.
CREATE TABLE sign_in_limits (
    key TEXT PRIMARY KEY NOT NULL,
    tat TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_limits_tat ON sign_in_limits (tat);
