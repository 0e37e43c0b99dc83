//! Key pairs for the tokens Better Auth's JWT plugin signs, and the JWKS it publishes for them.
//!
//! The plugin signs with one of five algorithms (its `jwks.keyPairConfig.alg`, EdDSA by
//! default), puts `{alg, kid}` in the header and nothing else, and serves each public key at
//! `/api/auth/jwks` as `{alg, crv, kty, x, y | n, e, kid}`. These keys do the same.
//!
//! Ed25519, P-256 and RSA signing are ring's; P-521 is RustCrypto's `p521`. ring cannot make RSA
//! keys, so they come from `openssl genpkey` (the workspace bans the `rsa` crate).

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p521::ecdsa::signature::Signer;
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use serde_json::{Value, json};

/// The algorithms Better Auth's JWT plugin can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    EdDSA,
    ES256,
    ES512,
    RS256,
    PS256,
}

impl Alg {
    pub const ASYMMETRIC: [Alg; 5] = [Alg::EdDSA, Alg::ES256, Alg::ES512, Alg::RS256, Alg::PS256];

    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::ES256 => "ES256",
            Alg::ES512 => "ES512",
            Alg::RS256 => "RS256",
            Alg::PS256 => "PS256",
        }
    }
}

enum Private {
    Ed25519(signature::Ed25519KeyPair),
    P256(signature::EcdsaKeyPair),
    P521(p521::ecdsa::SigningKey),
    Rsa(signature::RsaKeyPair),
}

/// A private key with its key id, as one row of Better Auth's `jwks` table.
pub struct SigningKey {
    alg: Alg,
    kid: String,
    private: Private,
}

impl SigningKey {
    /// A new random key for `alg`, published under `kid`.
    pub fn generate(alg: Alg, kid: &str) -> SigningKey {
        let rng = SystemRandom::new();
        let private = match alg {
            Alg::EdDSA => {
                let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key");
                Private::Ed25519(
                    signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("Ed25519 key"),
                )
            }
            Alg::ES256 => {
                let algorithm = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let pkcs8 =
                    signature::EcdsaKeyPair::generate_pkcs8(algorithm, &rng).expect("P-256 key");
                Private::P256(
                    signature::EcdsaKeyPair::from_pkcs8(algorithm, pkcs8.as_ref(), &rng)
                        .expect("P-256 key"),
                )
            }
            Alg::ES512 => Private::P521(p521::ecdsa::SigningKey::random(
                &mut p521::elliptic_curve::rand_core::OsRng,
            )),
            Alg::RS256 | Alg::PS256 => {
                let der = rsa_private_key(2048);
                // PKCS#1 from OpenSSL 3.0; PKCS#8 from other versions.
                let pair = signature::RsaKeyPair::from_der(&der)
                    .or_else(|_| signature::RsaKeyPair::from_pkcs8(&der))
                    .expect("an RSA key from openssl genpkey");
                Private::Rsa(pair)
            }
        };
        SigningKey {
            alg,
            kid: kid.to_owned(),
            private,
        }
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWS signature of `message` (fixed-size `r || s` for ECDSA, as JWS wants).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.private {
            Private::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            Private::P256(pair) => pair
                .sign(&rng, message)
                .expect("P-256 signing")
                .as_ref()
                .to_vec(),
            Private::P521(key) => {
                let signature: p521::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Private::Rsa(pair) => {
                let padding: &dyn signature::RsaEncoding = match self.alg {
                    Alg::PS256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &rng, message, &mut signature)
                    .expect("RSA signing");
                signature
            }
        }
    }

    /// A token with exactly these claims and the plugin's header, `{"alg", "kid"}`.
    pub fn token(&self, claims: &Value) -> String {
        self.token_with_header(&json!({ "alg": self.alg.name(), "kid": self.kid }), claims)
    }

    /// A token with this header (for tokens that lie about their algorithm or key) and claims,
    /// signed with this key's algorithm.
    pub fn token_with_header(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The key's entry in the plugin's JWKS.
    pub fn public_jwk(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (alg, kid) = (self.alg.name(), &self.kid);
        match &self.private {
            Private::Ed25519(pair) => json!({
                "alg": alg, "crv": "Ed25519", "kty": "OKP",
                "x": b64(pair.public_key().as_ref()), "kid": kid,
            }),
            Private::P256(pair) => {
                let point = pair.public_key().as_ref();
                json!({
                    "alg": alg, "crv": "P-256", "kty": "EC",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]), "kid": kid,
                })
            }
            Private::P521(key) => {
                let point = p521::ecdsa::VerifyingKey::from(key).to_encoded_point(false);
                json!({
                    "alg": alg, "crv": "P-521", "kty": "EC",
                    "x": b64(point.x().expect("uncompressed")),
                    "y": b64(point.y().expect("uncompressed")),
                    "kid": kid,
                })
            }
            Private::Rsa(pair) => {
                let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({
                    "alg": alg, "kty": "RSA", "n": b64(&public.n), "e": b64(&public.e),
                    "kid": kid,
                })
            }
        }
    }
}

/// The JWKS document publishing these keys, as `GET /api/auth/jwks` answers it.
pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.public_jwk()).collect::<Vec<_>>() })
}

/// A new RSA private key of `bits` bits, DER, from the openssl command line tool.
fn rsa_private_key(bits: u32) -> Vec<u8> {
    let output = Command::new("openssl")
        .args([
            "genpkey",
            "-quiet",
            "-algorithm",
            "RSA",
            "-outform",
            "DER",
            "-pkeyopt",
        ])
        .arg(format!("rsa_keygen_bits:{bits}"))
        .output()
        .unwrap_or_else(|error| {
            panic!("RSA test keys need the openssl command (Debian package openssl): {error}")
        });
    assert!(
        output.status.success(),
        "openssl genpkey failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_plugins_header_and_a_signature_ring_or_p521_accepts() {
        for alg in Alg::ASYMMETRIC {
            let key = SigningKey::generate(alg, "kid-1");
            let token = key.token(&json!({"sub": "u"}));
            let mut parts = token.split('.');
            let header: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
                    .unwrap();
            assert_eq!(header, json!({"alg": alg.name(), "kid": "kid-1"}));
            let jwk = key.public_jwk();
            assert_eq!(jwk["alg"], alg.name());
            assert_eq!(jwk["kid"], "kid-1");
            assert!(jwk.get("d").is_none(), "no private part in the JWKS");
            // Each signature checks with an independent verifier.
            let (input, signature) = token.rsplit_once('.').unwrap();
            let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
            let b64 = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
            let checked = match alg {
                Alg::EdDSA => signature::UnparsedPublicKey::new(&signature::ED25519, b64("x"))
                    .verify(input.as_bytes(), &signature)
                    .is_ok(),
                Alg::ES256 => {
                    let point = [vec![4], b64("x"), b64("y")].concat();
                    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                        .verify(input.as_bytes(), &signature)
                        .is_ok()
                }
                Alg::ES512 => {
                    use p521::ecdsa::signature::Verifier;
                    let point = [vec![4], b64("x"), b64("y")].concat();
                    let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
                    let signature = p521::ecdsa::Signature::from_slice(&signature).unwrap();
                    key.verify(input.as_bytes(), &signature).is_ok()
                }
                Alg::RS256 | Alg::PS256 => {
                    let parameters = if alg == Alg::PS256 {
                        &signature::RSA_PSS_2048_8192_SHA256
                    } else {
                        &signature::RSA_PKCS1_2048_8192_SHA256
                    };
                    signature::RsaPublicKeyComponents {
                        n: b64("n"),
                        e: b64("e"),
                    }
                    .verify(parameters, input.as_bytes(), &signature)
                    .is_ok()
                }
            };
            assert!(checked, "{alg:?}");
        }
    }
}
