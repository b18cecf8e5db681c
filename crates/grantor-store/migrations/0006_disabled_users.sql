-- A disabled user keeps their data (memberships, audit history) but cannot sign in, refresh,
-- exchange an API token or call the management API until enabled again.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
