ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN client_address;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN authenticated_at;
DROP TABLE recovery_codes;
