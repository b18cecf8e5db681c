-- What the user's list of sessions at /account shows (issue 20, point 9): a handle that names
-- a session in forms (never its hash, which CSRF tokens bind to), the browser's User-Agent,
-- the client address, and when it was last seen (written at most once a minute). Sessions from
-- before get a handle derived from their hash and count as last seen when they started.
ALTER TABLE sessions ADD COLUMN handle TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET handle = 'ses_' || substr(id_hash, 1, 22), last_seen_at = auth_time;
