-- private_key_jwt (RFC 7523): an app authenticates with assertions signed by its own keys,
-- registered as a JWKS document (jwks) or fetched from a URL (jwks_uri); such an app has no
-- secret (secret_hash NULL). At most one of the two is set.
ALTER TABLE apps ADD COLUMN jwks TEXT;
ALTER TABLE apps ADD COLUMN jwks_uri TEXT;
-- Per app "require PAR" (RFC 9126 6): plain authorization requests are refused.
ALTER TABLE apps ADD COLUMN require_par BIGINT NOT NULL DEFAULT 0;
