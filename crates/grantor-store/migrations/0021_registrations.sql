-- Dynamic client registration (RFC 7591, RFC 7592). Each registration keeps the hash of its
-- registration access token and the metadata it registered. An anonymous one waits here,
-- pending (app_id NULL), until its first authorization request binds it to an organization
-- open to registration, or it expires and is purged; once bound (or when registered with an
-- initial access token) app_id names its app, and the row goes with the app.
CREATE TABLE registrations (
    client_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    app_id TEXT REFERENCES apps (client_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- Counting and purging the pending; counting an organization's registered apps (by app).
CREATE INDEX registrations_pending ON registrations (app_id, expires_at);

-- Organizations whose owner opened anonymous registration of native apps, with the scopes
-- (space-separated) such apps may ask for. No row: closed.
CREATE TABLE registration_openings (
    org_id TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    opened_at BIGINT NOT NULL
);
