-- TOTP authenticators (issue 20, point 5): one per user, the secret sealed under the
-- key-encryption key; pending until a first code confirms it. `last_step` is the last time
-- step whose code was accepted, so no code is taken twice.
CREATE TABLE totp_authenticators (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT NOT NULL
);
-- Single-use recovery codes: only their hashes.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
