-- One-time tickets (`src/db/tickets.rs`): verify an address, reset a password, change an
-- address, accept an invitation. Only the SHA-256 of a ticket's token is kept. A ticket works
-- once: redeeming sets `used_at` by a conditional update in the transaction of its effect.
-- Issuing a ticket sets `superseded_at` on the user's earlier live tickets of that type.
-- `target_email` is the address a `verify_email` ticket proves or a `change_email` ticket
-- moves to. The retention sweeper deletes tickets long expired, used or superseded.
CREATE TABLE tickets (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    target_email TEXT,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    superseded_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- Supersession finds a user's live tickets of a type; retention goes by each end.
CREATE INDEX tickets_user_kind ON tickets (user_id, kind);
CREATE INDEX tickets_expires_at ON tickets (expires_at);
CREATE INDEX tickets_used_at ON tickets (used_at);
CREATE INDEX tickets_superseded_at ON tickets (superseded_at);
