-- Shared by SQLite and PostgreSQL: ids are TEXT, times BIGINT unix seconds, flags BIGINT 0/1.

CREATE TABLE config_version (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 1);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    platform_admin BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE resource_servers (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    identifier TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Scope names are unique across the installation, so a scope names its resource server.
CREATE TABLE resource_scopes (
    resource_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    PRIMARY KEY (resource_id, name)
);

CREATE TABLE apps (
    client_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    app_type TEXT NOT NULL,
    secret_hash TEXT,
    previous_secret_hash TEXT,
    previous_secret_expires_at BIGINT NOT NULL DEFAULT 0,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    allow_password BIGINT NOT NULL DEFAULT 0,
    allow_implicit BIGINT NOT NULL DEFAULT 0,
    access_token_ttl BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX apps_org ON apps (org_id);

CREATE TABLE org_access_grants (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, client_id)
);
CREATE INDEX org_access_grants_client ON org_access_grants (client_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    state TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    activate_at BIGINT NOT NULL,
    remove_at BIGINT
);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    org_id TEXT,
    source TEXT,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX audit_events_org ON audit_events (org_id, at);

CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
