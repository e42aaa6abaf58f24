-- Change events (`src/db/events.rs`): every change, written in the transaction that makes it
-- (a transactional outbox), numbered per organization. `event_sequences` holds each
-- organization's last number; a writer takes the next by updating that row, whose lock it
-- holds until it commits, so numbers are given in commit order and a reader never sees a gap
-- that a later commit fills.
CREATE TABLE event_sequences (
    org_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    last BIGINT NOT NULL
);

CREATE TABLE events (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sequence BIGINT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    request_id TEXT,
    subject_id TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (org_id, sequence)
);

-- A user's history (the audit log), and retention by age.
CREATE INDEX events_subject ON events (org_id, subject_id, sequence);
CREATE INDEX events_occurred_at ON events (occurred_at);
