-- Pushed authorization requests (RFC 9126): the checked parameters an app pushed, under the
-- hash of the request_uri it was given. Used once (consumed_at), purged once expired; rows go
-- with their app.
CREATE TABLE pushed_requests (
    request_uri_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    params TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
-- Counting an app's waiting requests, and the purge.
CREATE INDEX pushed_requests_client ON pushed_requests (client_id, expires_at);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
