-- The organization's active admins, for the `LAST_ADMIN` check (a count that must stay cheap
-- in an organization of a million users). Queries spell the predicate out literally.
CREATE INDEX users_active_admins ON users (org_id) WHERE role = 'admin' AND status = 'active';
