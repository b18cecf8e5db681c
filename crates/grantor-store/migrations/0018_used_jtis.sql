-- One-time proofs (DPoP proofs, client assertions): each jti once within its scope (a key's
-- thumbprint, an app) until it expires; purged after.
CREATE TABLE used_jtis (
    scope TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, jti)
);
CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at);
