-- The mail outbox (`src/db/mail.rs`, `src/mail/`). A message is queued in the transaction of
-- the change that causes it, so a change that rolls back sends nothing; the dispatcher sends
-- it after the commit, never in a request's path. A dispatcher works a message only while it
-- holds the lease (`lease_owner` until `lease_expires_at`), so with several instances each
-- message is sent by one, and a lease its instance died with expires. `attempts` counts the
-- failed ones; the next is at `next_attempt_at`. A row is deleted once sent or given up, so
-- no link or code outlives its delivery; `secrets` (the link and code) is sealed at rest
-- (`auth::secrets`), `vars` holds only what is not secret.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    vars TEXT NOT NULL,
    secrets TEXT,
    request_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);
