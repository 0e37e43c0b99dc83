//! Minting HS256 tokens the way the frontend's auth library does: `sub` = user id, `exp` set.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
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
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing cannot fail")
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
    use jsonwebtoken::{DecodingKey, Validation, decode};

    #[test]
    fn minted_token_verifies_with_the_same_secret() {
        let token = mint("s".repeat(32).as_str(), "alice", 60);
        let data = decode::<Value>(
            &token,
            &DecodingKey::from_secret("s".repeat(32).as_bytes()),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "alice");
    }
}
