-- Codes typed by hand (issue 17): a `verify_email` ticket mailed by users-api also carries a
-- 6-digit code. Only its hash is kept (`code_hash`, salted with the ticket's id, so bound to
-- the ticket and its user), and `code_attempts` counts wrong codes: the fifth ends the ticket,
-- link and code alike. (A pending change of address needs no column: it is the target of the
-- user's live `change_email` ticket.)
ALTER TABLE tickets ADD COLUMN code_hash TEXT;
ALTER TABLE tickets ADD COLUMN code_attempts INTEGER NOT NULL DEFAULT 0;
