-- Webhook endpoints and their deliveries (`src/db/webhooks.rs`, `src/webhooks/`).
--
-- Each endpoint walks its organization's events in sequence order: `cursor` is the last
-- sequence it is done with (delivered, or not subscribed), `attempts` the failed attempts of
-- the event after it, retried at `next_attempt_at`. A dispatcher works an endpoint only while
-- it holds the lease (`lease_owner` until `lease_expires_at`), so with several instances each
-- endpoint is worked by one at a time, and a lease its instance died with expires.
-- Secrets are sealed at rest (`auth::secrets`), never stored in the clear.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT,
    event_types TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at TIMESTAMP,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    cursor BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, id);

-- Every attempt, kept with its endpoint.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_sequence BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    redelivery BOOLEAN NOT NULL,
    succeeded BOOLEAN NOT NULL,
    response_status INTEGER,
    latency_ms BIGINT NOT NULL,
    response_body TEXT,
    error TEXT,
    next_attempt_at TIMESTAMP,
    attempted_at TIMESTAMP NOT NULL
);

CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_attempted_at ON webhook_deliveries (attempted_at);

-- Replays asked for with `POST …/deliveries/{event_id}/redeliver`, sent once each.
CREATE TABLE webhook_redeliveries (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_sequence BIGINT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    PRIMARY KEY (endpoint_id, event_sequence)
);
