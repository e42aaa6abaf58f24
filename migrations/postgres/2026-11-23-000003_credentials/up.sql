-- TOTP replay guard: the last time step whose code was accepted for this user. A code is
-- accepted only for a later step, so each code works once (RFC 6238 §5.2).
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
-- `GET /v1/me/sessions` lists a user's live sessions, newest first.
CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at);
DROP INDEX sessions_user_id;
