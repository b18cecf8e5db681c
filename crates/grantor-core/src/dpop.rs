//! DPoP at the authorization server (RFC 9449): a proof's stateless checks are
//! `grantor_token::dpop`'s; here its `jti` is used once on every node (the replay store), and
//! the server nonce is checked when the installation requires one.
//!
//! Nonces are stateless so that every node accepts every node's: an HMAC, under a key
//! derived from the key-encryption key, of the current [`NONCE_PERIOD`]. A nonce is
//! accepted during its period and the next, so a client that just fetched one is never
//! refused at a boundary.

use crate::OAuthError;
use crate::error::ErrorCode;
use crate::provider::Provider;
use crate::store::ReplayStore;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_token::dpop::{self, Expected};
pub use grantor_token::dpop::{ALGORITHMS, MAX_PROOF_LEN, Proof, ProofError};

/// How long one server nonce is current, seconds; it is accepted for twice that.
pub const NONCE_PERIOD: i64 = 300;

/// The scheme of the `Authorization` header for a DPoP-bound token, and of the header that
/// carries the proof.
pub const SCHEME: &str = "DPoP";

/// Makes and checks server nonces, the same on every node sharing the key.
#[derive(Clone)]
pub struct Nonces {
    key: hmac::Key,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces(..)")
    }
}

impl Nonces {
    pub fn new(key: hmac::Key) -> Self {
        Self { key }
    }

    fn for_period(&self, period: i64) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &period.to_be_bytes()))
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: i64) -> String {
        self.for_period(now.div_euclid(NONCE_PERIOD))
    }

    /// Whether `nonce` is this period's or the previous one's.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let period = now.div_euclid(NONCE_PERIOD);
        [period, period - 1]
            .into_iter()
            .any(|p| hmac::verify(&self.key, &p.to_be_bytes(), &decode(nonce)).is_ok())
    }
}

fn decode(nonce: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(nonce).unwrap_or_default()
}

fn invalid(e: ProofError) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, e.to_string())
}

/// Where a proof was sent: its method and the endpoint's URL.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub htm: &'a str,
    pub htu: &'a str,
}

impl<S: ReplayStore> Provider<S> {
    /// The nonce a response should carry in `DPoP-Nonce`, when nonces are required.
    pub fn dpop_nonce(&self) -> Option<String> {
        let nonces = self.settings.dpop_nonces.as_ref()?;
        Some(nonces.current(self.clock.now()))
    }

    /// Checks a DPoP proof sent to one of Grantor's endpoints, with the access token it
    /// accompanies if any, and returns the proof's key thumbprint. Its `jti` is spent here.
    pub async fn check_dpop_proof(
        &self,
        proof: &str,
        target: Target<'_>,
        access_token: Option<&str>,
    ) -> Result<String, OAuthError> {
        let proof = self.verify_dpop_proof(proof, target, access_token)?;
        self.spend_dpop_proof(&proof).await?;
        Ok(proof.jkt)
    }

    /// The checks of a proof that need no storage: signature, claims, and the nonce.
    pub fn verify_dpop_proof(
        &self,
        proof: &str,
        target: Target<'_>,
        access_token: Option<&str>,
    ) -> Result<Proof, OAuthError> {
        let now = self.clock.now();
        let expected = Expected {
            htm: target.htm,
            htu: target.htu,
            access_token,
            now,
        };
        let proof = dpop::verify(proof, &expected).map_err(invalid)?;
        if let Some(nonces) = &self.settings.dpop_nonces {
            match &proof.nonce {
                Some(nonce) if nonces.accepts(nonce, now) => {}
                Some(_) => {
                    return Err(OAuthError::new(
                        ErrorCode::UseDpopNonce,
                        "the DPoP proof's nonce is stale; use the one in DPoP-Nonce",
                    ));
                }
                None => {
                    return Err(OAuthError::new(
                        ErrorCode::UseDpopNonce,
                        "the DPoP proof must carry the server nonce sent in DPoP-Nonce",
                    ));
                }
            }
        }
        Ok(proof)
    }

    /// Records a verified proof's `jti` on every node; a second use is refused.
    pub async fn spend_dpop_proof(&self, proof: &Proof) -> Result<(), OAuthError> {
        let now = self.clock.now();
        // Scoped by the key: one client cannot spend another's jti.
        if !self
            .store
            .first_use(&proof.jkt, &proof.jti, proof.replay_expires_at(), now)
            .await?
        {
            return Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof was already used; make a new one for each request",
            ));
        }
        Ok(())
    }

    /// The token endpoint's URL, as DPoP proofs sent there name it in `htu`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth2/token", self.settings.issuer)
    }

    /// The userinfo endpoint's URL.
    pub fn userinfo_endpoint(&self) -> String {
        format!("{}/oauth2/userinfo", self.settings.issuer)
    }
}

/// An access token as a request presented it.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub token: &'a str,
    /// Present when the `Authorization` scheme was `DPoP`.
    pub dpop: Option<ProofSent<'a>>,
}

/// What came with a token presented under the `DPoP` scheme.
#[derive(Debug, Clone, Copy)]
pub struct ProofSent<'a> {
    /// The `DPoP` header, if there was one.
    pub proof: Option<&'a str>,
    /// The request's method.
    pub htm: &'a str,
}

fn invalid_token(why: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, why)
}

impl<S: ReplayStore> Provider<S> {
    /// Holds a token to its binding (RFC 9449 7): a bound token only under the `DPoP` scheme
    /// with a fresh proof by its key for this request (`htu`), an unbound one only as Bearer.
    pub async fn check_binding(
        &self,
        claims: &crate::token::AccessTokenClaims,
        presented: &Presented<'_>,
        htu: &str,
    ) -> Result<(), OAuthError> {
        match (&claims.cnf, &presented.dpop) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(invalid_token(
                "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
            )),
            (None, Some(_)) => Err(invalid_token(
                "the access token is not DPoP-bound: present it with the Bearer scheme",
            )),
            (Some(cnf), Some(sent)) => {
                let proof = sent.proof.ok_or_else(|| {
                    OAuthError::new(ErrorCode::InvalidDpopProof, "a DPoP proof is required")
                })?;
                let target = Target { htm: sent.htm, htu };
                let jkt = self
                    .check_dpop_proof(proof, target, Some(presented.token))
                    .await?;
                if jkt != cnf.jkt {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidDpopProof,
                        "the DPoP proof is made with another key than the token is bound to",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// A thumbprint as a client may name it in `dpop_jkt`: base64url of 32 bytes.
pub fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && URL_SAFE_NO_PAD
            .decode(value)
            .is_ok_and(|bytes| bytes.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_lives_its_period_and_the_next_on_every_node() {
        let kek = crate::jose::KeyEncryptionKey::parse(
            &crate::jose::KeyEncryptionKey::generate_encoded().unwrap(),
        )
        .unwrap();
        let node_a = Nonces::new(kek.derive_mac_key("dpop"));
        let node_b = Nonces::new(kek.derive_mac_key("dpop"));
        let t = 1_800_000_000;
        let nonce = node_a.current(t);
        assert!(node_b.accepts(&nonce, t));
        assert!(node_b.accepts(&nonce, t + NONCE_PERIOD));
        assert!(!node_b.accepts(&nonce, t + 2 * NONCE_PERIOD));
        assert!(!node_b.accepts("not-a-nonce", t));
        let other = Nonces::new(kek.derive_mac_key("another purpose"));
        assert!(!other.accepts(&nonce, t));
    }
}
