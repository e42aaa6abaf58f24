DROP INDEX users_selected_team_id;
DROP INDEX teams_org_id;
CREATE INDEX teams_org_id ON teams (org_id);
DROP TABLE idempotency_keys;
