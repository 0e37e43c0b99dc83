//! HS256 for jsonwebtoken on `ring`, the crypto library rustls already links.
//!
//! jsonwebtoken's bundled providers bring every algorithm's crates (RustCrypto's includes `rsa`,
//! with an advisory and no fixed release) although this service only ever uses HMAC-SHA256.
//! This provider knows HS256 and nothing else: any other algorithm is an invalid algorithm.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::hmac;

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes HS256 on ring jsonwebtoken's process-wide provider; every signing and verifying path
/// calls this first, so the order of start-up steps does not matter.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Only this module installs a provider, so the install cannot find another one there.
        let _ = PROVIDER.install_default();
    });
}

fn signer_factory(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::HS256 || key.family() != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(Hs256(hmac::Key::new(
        hmac::HMAC_SHA256,
        key.as_bytes(),
    ))))
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::HS256 || key.family() != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(Hs256(hmac::Key::new(
        hmac::HMAC_SHA256,
        key.try_get_as_bytes()?,
    ))))
}

struct Hs256(hmac::Key);

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        // Constant-time comparison, inside ring.
        hmac::verify(&self.0, message, signature).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Header, Validation, decode, encode};
    use serde_json::{Value, json};

    const SECRET: &[u8] = b"hs256-provider-test-secret-0123456789";

    #[test]
    fn hs256_tokens_round_trip() {
        install();
        let claims = json!({"sub": "u", "exp": 4_102_444_800u64});
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        let data = decode::<Value>(
            &token,
            &DecodingKey::from_secret(SECRET),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "u");
    }

    #[test]
    fn no_other_algorithm_is_provided() {
        install();
        let key = EncodingKey::from_secret(SECRET);
        for algorithm in [
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::EdDSA,
        ] {
            let error = encode(&Header::new(algorithm), &json!({}), &key).unwrap_err();
            assert_eq!(*error.kind(), ErrorKind::InvalidAlgorithm, "{algorithm:?}");
        }
    }

    #[test]
    fn the_lockfile_has_no_rsa_crate() {
        // What `cargo tree -i rsa` would say, without running cargo inside a test.
        let lockfile =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
        assert!(
            !lockfile.contains("\nname = \"rsa\"\n"),
            "rsa is back in Cargo.lock: which dependency brought it?"
        );
    }
}
