-- Bounded sign-in tables. A grant records when the last token it can issue without a refresh
-- token expires (its code's access token); while a refresh token of it lives, it lives too.
-- Past both, nothing issued from it can be used, so it goes, and its codes and spent refresh
-- tokens with it (ON DELETE CASCADE). Earlier grants get the longest such bound: a day past
-- their code.
ALTER TABLE grants ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE grants SET expires_at = created_at + 60 + 86400;
CREATE INDEX grants_expires_at ON grants (expires_at);

-- The periodic purge finds expired rows by index, and a deleted grant finds its codes.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX authorization_codes_grant ON authorization_codes (grant_id);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
