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

-- Step-up (`--reauth-window`): when the session's user last proved who they are (sign-in, or
-- `POST /v1/sessions/current/reauthenticate`), and how (`amr`: space-separated `pwd`, `otp`,
-- `recovery`). Sessions from before this migration count as authenticated when created.
-- A row written without it (by hand) counts as authenticated long ago: no step-up from it.
ALTER TABLE sessions ADD COLUMN authenticated_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE sessions SET authenticated_at = created_at;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

-- Device context, so a user can recognise a session that is not theirs in GET /v1/me/sessions:
-- the client address at sign-in (after the `--trusted-proxies` rule) and the `User-Agent` as
-- sent (at most 512 characters); browser and OS names are parsed from it when shown.
ALTER TABLE sessions ADD COLUMN client_address TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
