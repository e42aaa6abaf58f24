DROP INDEX idempotency_keys_created_at;
DROP INDEX sessions_revoked_at;
DROP INDEX sessions_expires_at;
