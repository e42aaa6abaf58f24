-- Account lockout (`src/db/lockout.rs`, `--lockout-threshold`): the failed sign-ins in a row
-- since the last success, and until when the account refuses every sign-in. Kept in the
-- database so that every instance of a fleet counts the same attempts.
ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TIMESTAMP;
