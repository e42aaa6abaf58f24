ALTER TABLE tickets DROP COLUMN code_attempts;
ALTER TABLE tickets DROP COLUMN code_hash;
