-- Portable column types: ids are canonical lowercase UUID text, timestamps are UTC
-- `TIMESTAMP`, metadata is serialised JSON text. One diesel schema serves both backends.
CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'active',
    role TEXT NOT NULL DEFAULT 'member',
    display_name TEXT,
    first_name TEXT,
    last_name TEXT,
    bio TEXT,
    profile_image_url TEXT,
    phone_number TEXT,
    phone_number_verified BOOLEAN NOT NULL DEFAULT FALSE,
    locale TEXT,
    timezone TEXT,
    primary_email TEXT,
    -- Lower-cased address: the unique index below makes e-mail case-insensitively unique per org.
    primary_email_key TEXT,
    primary_email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    primary_email_auth_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    password_hash TEXT,
    totp_secret TEXT,
    selected_team_id TEXT,
    client_metadata TEXT NOT NULL DEFAULT '{}',
    client_read_only_metadata TEXT NOT NULL DEFAULT '{}',
    server_metadata TEXT NOT NULL DEFAULT '{}',
    -- Bumped on every real change; the ETag is derived from it.
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_active_at TIMESTAMP
);
CREATE UNIQUE INDEX users_org_email_key ON users (org_id, primary_email_key);
CREATE INDEX users_org_id ON users (org_id, id);

CREATE TABLE teams (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX teams_org_id ON teams (org_id);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'member',
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_id ON team_members (user_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    last_active_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- SHA-256 of the secret, hex. The secret itself is shown once and never stored.
    secret_hash TEXT NOT NULL,
    -- Space-separated scopes.
    scopes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_org_id ON api_keys (org_id);
