-- DPoP (RFC 9449): the key thumbprint an authorization code is bound to (the request's
-- dpop_jkt), and the one a public app's refresh token is bound to. NULL: not bound.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
