-- TOTP recovery codes (`src/db/recovery_codes.rs`): ten per user with 2FA on, shown once when
-- 2FA is turned on through /v1/me (or the set is regenerated), stored only as SHA-256 (each code
-- carries 50 random bits). A code works once: `used_at` is set by one conditional UPDATE.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    PRIMARY KEY (user_id, code_hash)
);
