ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN authenticated_at;
DROP TABLE recovery_codes;
