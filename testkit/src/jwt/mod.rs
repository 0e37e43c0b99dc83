//! Minting tokens the way the frontend's auth library (Better Auth, on `jose`) does: HS256 with
//! the shared secret here, and the JWT plugin's asymmetric tokens in [`keys`].
//!
//! Signed here with ring (and RustCrypto's p521) directly, never with the service's own code, so
//! the service's verifier is tested against tokens it had no part in making.

mod keys;

pub use self::keys::{Alg, SigningKey, jwks};

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde_json::{Value, json};

/// A token for `user` valid for `ttl_secs` (negative: already expired).
pub fn mint(secret: &str, user: &str, ttl_secs: i64) -> String {
    mint_claims(
        secret,
        json!({ "sub": user, "iat": now(), "exp": now() + ttl_secs }),
    )
}

/// A token with exactly these claims, signed HS256.
pub fn mint_claims(secret: &str, claims: Value) -> String {
    sign(&json!({ "alg": "HS256", "typ": "JWT" }), &claims, secret)
}

/// The claims Better Auth's JWT plugin puts in a token (its `getJwtToken` and `signJWT`): the
/// session's user (`id`, `name`, `email`, `emailVerified`, `image`, `createdAt`, `updatedAt`),
/// `sub` = the user id, `iat`, `exp` 15 minutes later (its default), and `iss` and `aud` = the
/// app's base URL (its defaults).
pub fn better_auth_claims(user: &str, base_url: &str) -> Value {
    json!({
        "id": user,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "emailVerified": true,
        "image": null,
        "createdAt": "2026-01-02T03:04:05.000Z",
        "updatedAt": "2026-01-02T03:04:05.000Z",
        "iat": now(),
        "sub": user,
        "exp": now() + 15 * 60,
        "iss": base_url,
        "aud": base_url,
    })
}

/// Better Auth's plugin claims signed HS256 with the shared secret: what a frontend that signs
/// its own tokens with BETTER_AUTH_SECRET sends (the plugin's own tokens are asymmetric: see
/// [`SigningKey`]).
pub fn better_auth(secret: &str, user: &str, base_url: &str) -> String {
    sign(
        &json!({ "alg": "HS256", "typ": "JWT" }),
        &better_auth_claims(user, base_url),
        secret,
    )
}

/// A token with this header and these claims, signed with the HMAC the header's `alg` names
/// (HS256, HS384 or HS512), whatever the service accepts.
pub fn sign(header: &Value, claims: &Value, secret: &str) -> String {
    sign_json(&header.to_string(), &claims.to_string(), secret)
}

/// Signs the exact JSON texts given, so tests can reproduce published examples byte for byte.
pub fn sign_json(header: &str, claims: &str, secret: &str) -> String {
    let header_value: Value = serde_json::from_str(header).expect("the header is JSON");
    let algorithm = match header_value["alg"].as_str() {
        Some("HS256") => hmac::HMAC_SHA256,
        Some("HS384") => hmac::HMAC_SHA384,
        Some("HS512") => hmac::HMAC_SHA512,
        other => panic!("testkit signs HS256, HS384 and HS512 only, not {other:?}"),
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = hmac::Key::new(algorithm, secret.as_bytes());
    let signature = hmac::sign(&key, signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_matches_the_published_hs256_example() {
        // The example token on jwt.io (secret "your-256-bit-secret").
        let token = sign_json(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#,
            "your-256-bit-secret",
        );
        assert_eq!(
            token,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
             eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.\
             SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        );
    }

    #[test]
    fn better_auth_tokens_carry_issuer_audience_and_profile() {
        let token = better_auth("s".repeat(32).as_str(), "u1", "https://app.example");
        let header = token.split('.').next().unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
        let claims = token.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(claims["iss"], "https://app.example");
        assert_eq!(claims["aud"], "https://app.example");
        assert_eq!(claims["email"], "ada@example.com");
    }
}
