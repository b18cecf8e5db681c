-- Verified emails and organizations that require a second factor (issue 20, points 4 and 7).
-- `email_verified_at`: when the user proved the address reaches them (a mailed link, or an
-- invitation mailed to it); accounts from before count as unverified.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
-- Whether signing in to this organization's apps, using its console and exchanging its API
-- tokens need a second factor.
ALTER TABLE organizations ADD COLUMN require_second_factor BIGINT NOT NULL DEFAULT 0;
-- Email verification links: single use, a day long, only the hash of the token stored. The
-- address is kept so a link mailed to an old address verifies nothing after a change.
CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);
CREATE INDEX email_verifications_expiry ON email_verifications (expires_at);
-- Whether the invitation's link was mailed to its address by Grantor: accepting it then
-- proves the address, as a verification link would.
ALTER TABLE invitations ADD COLUMN mailed BIGINT NOT NULL DEFAULT 0;
