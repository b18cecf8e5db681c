-- Revocations as an ordered log that every node reads into memory, so introspection and the
-- management API check a token without a database read. Numbers come from a counter row
-- bumped in the revoking transaction: its lock orders revocations by commit, so a node that
-- has read up to n has missed none below n. An entry is kept until every token it can
-- affect has expired: an access token's own expiry, or a day (the longest access-token
-- lifetime) after its grant or API token was revoked.
CREATE TABLE revocations (
    seq BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revocations_expires_at ON revocations (expires_at);

INSERT INTO revocations (seq, kind, id, expires_at)
SELECT ROW_NUMBER() OVER (ORDER BY kind, id), kind, id, expires_at FROM (
    SELECT 'access_token' AS kind, jti AS id, expires_at FROM revoked_access_tokens
    UNION ALL
    SELECT 'grant', id, revoked_at + 86400 FROM grants WHERE revoked_at IS NOT NULL
    UNION ALL
    SELECT 'grant', id, revoked_at + 86400 FROM api_tokens WHERE revoked_at IS NOT NULL
) earlier;

CREATE TABLE revocation_counter (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO revocation_counter (id, seq) SELECT 1, COUNT(*) FROM revocations;

DROP TABLE revoked_access_tokens;
