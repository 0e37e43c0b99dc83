//! The keys a signature is checked with: BETTER_AUTH_SECRET for HS256, and public keys read
//! from a JWKS (RFC 7517) for the others. Each key says which algorithms it verifies, so a
//! token cannot pick how its own signature is checked (no HMAC with a public key, no RSA key
//! for an ECDSA token).
//!
//! The signature math is ring's (HMAC-SHA256, Ed25519, ECDSA P-256, RSA PKCS#1 and PSS) and
//! RustCrypto's `p521` for ES512, which ring lacks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p521::ecdsa::signature::Verifier;
use ring::{hmac, signature};
use serde::Deserialize;

use super::jws::Algorithm;

/// RSA moduli below this many bits are refused (NIST SP 800-131A; ring refuses them too).
pub const MIN_RSA_BITS: usize = 2048;
/// ring's upper bound for RSA verification.
const MAX_RSA_BITS: usize = 8192;

/// A key that can check signatures.
pub enum VerifyingKey {
    /// BETTER_AUTH_SECRET; never read from a JWKS.
    Hmac(hmac::Key),
    Ed25519(Vec<u8>),
    /// An uncompressed SEC1 point (`04 || x || y`).
    P256(Vec<u8>),
    P521(Box<p521::ecdsa::VerifyingKey>),
    Rsa(signature::RsaPublicKeyComponents<Vec<u8>>),
}

/// A key from a JWKS, with the algorithm its entry pins, if any.
pub struct PublicKey {
    key: VerifyingKey,
    /// The entry's `alg`; without one, any algorithm of the key's type is allowed.
    pinned: Option<Algorithm>,
}

impl VerifyingKey {
    pub fn hs256(secret: &[u8]) -> VerifyingKey {
        VerifyingKey::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// Whether this kind of key verifies `algorithm`.
    fn fits(&self, algorithm: Algorithm) -> bool {
        matches!(
            (self, algorithm),
            (VerifyingKey::Hmac(_), Algorithm::HS256)
                | (VerifyingKey::Ed25519(_), Algorithm::EdDSA)
                | (VerifyingKey::P256(_), Algorithm::ES256)
                | (VerifyingKey::P521(_), Algorithm::ES512)
                | (VerifyingKey::Rsa(_), Algorithm::RS256 | Algorithm::PS256)
        )
    }

    /// Checks `signature` over `message` with `algorithm`, which must be one this key verifies.
    pub fn verify(
        &self,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        if !self.fits(algorithm) {
            return Err(SignatureError::WrongKeyType);
        }
        let checked = match self {
            // Constant-time comparison, inside ring.
            VerifyingKey::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            VerifyingKey::Ed25519(public) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, public)
                    .verify(message, signature)
                    .is_ok()
            }
            VerifyingKey::P256(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            VerifyingKey::P521(key) => p521::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
            VerifyingKey::Rsa(components) => {
                let parameters = if algorithm == Algorithm::PS256 {
                    &signature::RSA_PSS_2048_8192_SHA256
                } else {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                };
                components.verify(parameters, message, signature).is_ok()
            }
        };
        if checked {
            Ok(())
        } else {
            Err(SignatureError::BadSignature)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The key is not of the type the token's algorithm needs.
    WrongKeyType,
    BadSignature,
}

impl PublicKey {
    /// Whether a token signed with `algorithm` may be checked with this key.
    pub fn accepts(&self, algorithm: Algorithm) -> bool {
        self.key.fits(algorithm) && self.pinned.is_none_or(|pinned| pinned == algorithm)
    }

    pub fn verify(
        &self,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        if !self.accepts(algorithm) {
            return Err(SignatureError::WrongKeyType);
        }
        self.key.verify(algorithm, message, signature)
    }
}

/// One entry of a JWKS's `keys`, with the members this service reads.
#[derive(Debug, Deserialize)]
pub struct Jwk {
    pub kid: Option<String>,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

impl Jwk {
    /// The key this entry describes, or why it cannot be used to verify tokens.
    pub fn to_public_key(&self) -> Result<PublicKey, String> {
        if self.usage.as_deref().is_some_and(|usage| usage != "sig") {
            return Err(format!("\"use\" is {:?}, not \"sig\"", self.usage));
        }
        if let Some(operations) = &self.key_ops
            && !operations.iter().any(|operation| operation == "verify")
        {
            return Err("\"key_ops\" does not include \"verify\"".into());
        }
        let pinned = match self.alg.as_deref() {
            None => None,
            Some(name) => match Algorithm::from_name(name) {
                Some(Algorithm::HS256) | None => {
                    return Err(format!("algorithm {name:?} is not accepted from a JWKS"));
                }
                Some(algorithm) => Some(algorithm),
            },
        };
        let key = match (self.kty.as_str(), self.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => VerifyingKey::Ed25519(self.coordinate("x", &self.x, 32)?),
            ("EC", Some("P-256")) => {
                let mut point = vec![0x04];
                point.extend(self.coordinate("x", &self.x, 32)?);
                point.extend(self.coordinate("y", &self.y, 32)?);
                // ring checks the point is on the curve at each verification (it has no
                // parsed P-256 public key type); a bad point fails every signature.
                VerifyingKey::P256(point)
            }
            ("EC", Some("P-521")) => {
                let mut point = vec![0x04];
                point.extend(self.coordinate("x", &self.x, 66)?);
                point.extend(self.coordinate("y", &self.y, 66)?);
                let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| "the point is not on P-521".to_owned())?;
                VerifyingKey::P521(Box::new(key))
            }
            ("RSA", _) => VerifyingKey::Rsa(self.rsa_components()?),
            ("oct", _) => return Err("symmetric keys are never accepted from a JWKS".into()),
            (kty, crv) => {
                return Err(format!("unsupported key type {kty:?} (curve {crv:?})"));
            }
        };
        if let Some(algorithm) = pinned
            && !key.fits(algorithm)
        {
            return Err(format!(
                "its \"alg\" {} does not fit its key type {:?}",
                algorithm.name(),
                self.kty
            ));
        }
        Ok(PublicKey { key, pinned })
    }

    fn coordinate(
        &self,
        name: &str,
        value: &Option<String>,
        length: usize,
    ) -> Result<Vec<u8>, String> {
        let bytes = decode(name, value)?;
        if bytes.len() != length {
            return Err(format!("\"{name}\" is {} bytes, not {length}", bytes.len()));
        }
        Ok(bytes)
    }

    fn rsa_components(&self) -> Result<signature::RsaPublicKeyComponents<Vec<u8>>, String> {
        let n = decode("n", &self.n)?;
        let e = decode("e", &self.e)?;
        let significant = n.iter().position(|&byte| byte != 0).unwrap_or(n.len());
        let bits = n.get(significant).map_or(0, |&top| {
            (n.len() - significant - 1) * 8 + (8 - top.leading_zeros() as usize)
        });
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "its RSA modulus has {bits} bits; at least {MIN_RSA_BITS} are required"
            ));
        }
        if bits > MAX_RSA_BITS {
            return Err(format!(
                "its RSA modulus has {bits} bits; at most {MAX_RSA_BITS} are supported"
            ));
        }
        Ok(signature::RsaPublicKeyComponents {
            n: n[significant..].to_vec(),
            e,
        })
    }
}

fn decode(name: &str, value: &Option<String>) -> Result<Vec<u8>, String> {
    let value = value
        .as_deref()
        .ok_or_else(|| format!("\"{name}\" is missing"))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| format!("\"{name}\" is not base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use testkit::jwt::{Alg, SigningKey};

    fn jwk(value: serde_json::Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn each_algorithm_verifies_with_its_own_key_only() {
        let message = b"header.payload";
        let keys: Vec<SigningKey> = Alg::ASYMMETRIC
            .iter()
            .map(|&alg| SigningKey::generate(alg, "k"))
            .collect();
        for signer in &keys {
            let algorithm = Algorithm::from_name(signer.alg().name()).unwrap();
            let signature = signer.sign(message);
            let public = jwk(signer.public_jwk()).to_public_key().unwrap();
            assert_eq!(
                public.verify(algorithm, message, &signature),
                Ok(()),
                "{algorithm:?}"
            );
            assert_eq!(
                public.verify(algorithm, b"header.tampered", &signature),
                Err(SignatureError::BadSignature),
                "{algorithm:?}"
            );
            for other in &keys {
                let other_alg = Algorithm::from_name(other.alg().name()).unwrap();
                if other_alg == algorithm {
                    continue;
                }
                let other_public = jwk(other.public_jwk()).to_public_key().unwrap();
                assert!(
                    other_public.verify(algorithm, message, &signature).is_err(),
                    "{algorithm:?} token checked with a {other_alg:?} key"
                );
            }
        }
    }

    #[test]
    fn an_rsa_key_pinned_to_rs256_does_not_verify_ps256() {
        let signer = SigningKey::generate(Alg::PS256, "k");
        let mut entry = signer.public_jwk();
        entry["alg"] = json!("RS256");
        let public = jwk(entry).to_public_key().unwrap();
        assert!(!public.accepts(Algorithm::PS256));
        assert_eq!(
            public.verify(Algorithm::PS256, b"m", &signer.sign(b"m")),
            Err(SignatureError::WrongKeyType)
        );
        let mut unpinned = signer.public_jwk();
        unpinned.as_object_mut().unwrap().remove("alg");
        let public = jwk(unpinned).to_public_key().unwrap();
        assert!(public.accepts(Algorithm::PS256) && public.accepts(Algorithm::RS256));
    }

    #[test]
    fn unusable_entries_are_refused_with_a_reason() {
        let refused = |value: serde_json::Value| jwk(value).to_public_key().err().unwrap();
        assert!(refused(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"})).contains("symmetric"));
        assert!(
            refused(json!({"kty": "OKP", "crv": "Ed25519", "x": "AA", "alg": "HS256"}))
                .contains("HS256")
        );
        assert!(refused(json!({"kty": "OKP", "crv": "Ed448", "x": "AA"})).contains("Ed448"));
        assert!(refused(json!({"kty": "OKP", "crv": "Ed25519", "x": "AA"})).contains("32"));
        let ed = SigningKey::generate(Alg::EdDSA, "k").public_jwk();
        let mut encryption = ed.clone();
        encryption["use"] = json!("enc");
        assert!(refused(encryption).contains("enc"));
        let mut mismatched = ed;
        mismatched["alg"] = json!("ES256");
        assert!(refused(mismatched).contains("does not fit"));
    }

    #[test]
    fn rsa_keys_under_2048_bits_are_refused() {
        // A 1024-bit modulus: top bit set, 128 bytes.
        let mut modulus = vec![0xC5; 128];
        modulus[127] |= 1;
        let entry = json!({
            "kty": "RSA", "alg": "RS256", "kid": "weak",
            "n": URL_SAFE_NO_PAD.encode(&modulus), "e": "AQAB",
        });
        let reason = jwk(entry).to_public_key().err().unwrap();
        assert!(reason.contains("1024 bits"), "{reason}");
    }

    #[test]
    fn a_p521_point_off_the_curve_is_refused() {
        let entry = json!({
            "kty": "EC", "crv": "P-521", "alg": "ES512",
            "x": URL_SAFE_NO_PAD.encode([1u8; 66]), "y": URL_SAFE_NO_PAD.encode([2u8; 66]),
        });
        assert!(jwk(entry).to_public_key().is_err());
    }
}
