-- The device authorization grant (RFC 8628). Apps opt in, as for the legacy grants.
ALTER TABLE apps ADD COLUMN allow_device_code BIGINT NOT NULL DEFAULT 0;

-- One row per device authorization: both codes stored hashed, what the device asked for, how
-- often it may poll, and the person's answer once given (decided_at, with denied = 1 or the
-- approval's user, organization, scopes and grant). An approved code is exchanged once
-- (consumed_at). Rows go with their app; a consumed one is kept while its grant lives (a
-- late replay then still revokes what it issued), any other once expired.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    resources TEXT NOT NULL,
    poll_interval BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_polled_at BIGINT,
    decided_at BIGINT,
    denied BIGINT NOT NULL DEFAULT 0,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    org_id TEXT,
    granted_scopes TEXT,
    auth_time BIGINT,
    -- How the approving person signed in, for the ID token's amr ('pwd' or 'pwd otp').
    sign_in_method TEXT,
    grant_id TEXT REFERENCES grants (id) ON DELETE CASCADE,
    consumed_at BIGINT
);
-- Counting an app's pending authorizations, the purge, and a deleted grant's codes.
CREATE INDEX device_codes_client ON device_codes (client_id, expires_at);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
CREATE INDEX device_codes_grant ON device_codes (grant_id);
