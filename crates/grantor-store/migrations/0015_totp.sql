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
-- How each session's user signed in, carried by the codes and refresh tokens issued under it,
-- for the ID token's `amr` ('pwd', or 'pwd otp' after a TOTP code). Rows from before count as
-- the password alone.
ALTER TABLE sessions ADD COLUMN sign_in_method TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE authorization_codes ADD COLUMN sign_in_method TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE refresh_tokens ADD COLUMN sign_in_method TEXT NOT NULL DEFAULT 'pwd';
