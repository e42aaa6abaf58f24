-- `Idempotency-Key` on `POST /v1/users`: the first result per (organization, key) is kept for
-- 24 hours and replayed for the same request body. The primary key decides races: a second
-- request with the key waits for the first transaction and then sees its result.
CREATE TABLE idempotency_keys (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 (hex) of the operation and the request body as sent.
    request_hash TEXT NOT NULL,
    -- The response's `data`, serialised JSON; NULL only inside the creating transaction.
    response_body TEXT,
    -- The user the request created: deleting that user forgets the stored response with it,
    -- so no personal data outlives the user here.
    user_id TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, idempotency_key)
);

CREATE INDEX idempotency_keys_user_id ON idempotency_keys (user_id);

-- Keyset pagination of teams within an organization.
DROP INDEX teams_org_id;
CREATE INDEX teams_org_id ON teams (org_id, id);
-- Deleting a team clears `selected_team_id` of its users.
CREATE INDEX users_selected_team_id ON users (selected_team_id);
