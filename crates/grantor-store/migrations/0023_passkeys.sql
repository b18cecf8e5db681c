-- Passkeys (issue 20, point 6): WebAuthn credentials, public data only. A credential id is
-- registered once in the whole installation (it names the key pair on the authenticator);
-- `sign_count` only moves forward (or stays zero for authenticators that keep no count).
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    alg BIGINT NOT NULL,
    sign_count BIGINT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at);
