-- The retention sweeper (`src/db/retention.rs`) finds ended sessions and old idempotency
-- records by these, in small batches, without scanning the tables.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
