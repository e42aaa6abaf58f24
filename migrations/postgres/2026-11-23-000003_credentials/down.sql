CREATE INDEX sessions_user_id ON sessions (user_id);
DROP INDEX sessions_user_id_created_at;
ALTER TABLE users DROP COLUMN totp_last_step;
