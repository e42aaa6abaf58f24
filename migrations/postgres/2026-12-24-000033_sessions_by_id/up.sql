-- `GET /v1/me/sessions` and `GET /v1/users/{id}/sessions` page a user's live sessions by id
-- (UUIDv7, so creation order) in either direction: a range scan of this index, no sort.
CREATE INDEX sessions_user_id_id ON sessions (user_id, id);
DROP INDEX sessions_user_id_created_at;
