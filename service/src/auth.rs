//! Bearer-token authentication: HS256 JWTs signed with BETTER_AUTH_SECRET, as Better Auth's
//! JWT plugin issues them.
//!
//! Only HS256 is accepted (`alg: none` and every other algorithm are rejected), `exp` is
//! required and checked, and `sub` names the user that owns the tasks. Better Auth also puts
//! `iss` and `aud` (the app's base URL by default) and profile claims (`name`, `email`, ...) in
//! every token: extra claims are ignored, and `iss` and `aud` are enforced only when
//! JWT_ISSUER and JWT_AUDIENCE are set.

mod hs256;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::UserId;

/// What tokens are signed with and which issuers and audiences they must name.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// BETTER_AUTH_SECRET, shared with the frontend.
    pub secret: SecretString,
    /// Accepted `iss` values; empty = any (the claim is then not required).
    pub issuers: Vec<String>,
    /// Accepted `aud` values; empty = any (the claim is then not required).
    pub audiences: Vec<String>,
}

/// Clock skew tolerated on `exp` and `nbf` between the token issuer and this service.
const LEEWAY_SECS: u64 = 30;

/// Why a request was not authenticated; the text is safe to return to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    MissingToken,
    NotBearer,
    Expired,
    InvalidToken(&'static str),
}

impl AuthError {
    /// The RFC 6750 `error` attribute for `WWW-Authenticate`, when there is one.
    pub fn rfc6750_code(&self) -> Option<&'static str> {
        match self {
            AuthError::MissingToken => None,
            AuthError::NotBearer => Some("invalid_request"),
            AuthError::Expired | AuthError::InvalidToken(_) => Some("invalid_token"),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingToken => f.write_str("missing bearer token"),
            AuthError::NotBearer => f.write_str("authorization header must be 'Bearer <token>'"),
            AuthError::Expired => f.write_str("token has expired"),
            AuthError::InvalidToken(why) => write!(f, "invalid token: {why}"),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
}

impl Authenticator {
    /// A verifier for tokens signed with the configured secret. Configured issuers (audiences)
    /// make `iss` (`aud`) required and one of them; none accept any value or none.
    pub fn new(config: &TokenConfig) -> Authenticator {
        let (issuers, audiences) = (&config.issuers, &config.audiences);
        hs256::install();
        let mut validation = Validation::new(Algorithm::HS256);
        let mut required = vec!["exp", "sub"];
        if !issuers.is_empty() {
            validation.set_issuer(issuers);
            required.push("iss");
        }
        if audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(audiences);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        Authenticator {
            key: DecodingKey::from_secret(config.secret.expose_secret().as_bytes()),
            validation,
        }
    }

    /// Checks an `Authorization` header value.
    pub fn verify(&self, authorization: Option<&str>) -> Result<UserId, AuthError> {
        let header = authorization.ok_or(AuthError::MissingToken)?;
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(AuthError::NotBearer),
        };
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        let data =
            decode::<Claims>(token, &self.key, &self.validation).map_err(|error| {
                match error.kind() {
                    ErrorKind::ExpiredSignature => AuthError::Expired,
                    ErrorKind::InvalidSignature => AuthError::InvalidToken("bad signature"),
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        AuthError::InvalidToken("algorithm must be HS256")
                    }
                    ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
                        "iss" => AuthError::InvalidToken("the iss claim is required"),
                        "aud" => AuthError::InvalidToken("the aud claim is required"),
                        _ => AuthError::InvalidToken("the exp and sub claims are required"),
                    },
                    ErrorKind::InvalidIssuer => AuthError::InvalidToken("issuer not accepted"),
                    ErrorKind::InvalidAudience => AuthError::InvalidToken("audience not accepted"),
                    ErrorKind::ImmatureSignature => {
                        AuthError::InvalidToken("token is not valid yet")
                    }
                    _ => AuthError::InvalidToken("malformed token"),
                }
            })?;
        UserId::parse(data.claims.sub).map_err(|invalid| AuthError::InvalidToken(invalid.reason()))
    }
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// A token for `user` that the service accepts from `now` until `now + ttl`: HS256 with the
/// configured secret, and the first configured issuer and audience, if any, as `iss` and
/// `aud`. For `backend token`, so developers need no other tool to call the API.
pub fn mint(config: &TokenConfig, user: &UserId, ttl: Duration, now: SystemTime) -> String {
    hs256::install();
    let iat = now
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let claims = MintedClaims {
        sub: user.as_str(),
        iat,
        exp: iat + ttl.as_secs(),
        iss: config.issuers.first().map(String::as_str),
        aud: config.audiences.first().map(String::as_str),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(config.secret.expose_secret().as_bytes()),
    )
    .expect("HS256 signing of plain claims cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"unit-test-secret-unit-test-secret-0123";

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    /// Signed by testkit (ring's HMAC), not by the library under test.
    fn token(algorithm: Algorithm, claims: serde_json::Value, secret: &[u8]) -> String {
        let header = json!({ "alg": format!("{algorithm:?}"), "typ": "JWT" });
        testkit::jwt::sign(&header, &claims, std::str::from_utf8(secret).unwrap())
    }

    fn verify(token: &str) -> Result<UserId, AuthError> {
        Authenticator::new(&config(&[], &[])).verify(Some(&format!("Bearer {token}")))
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    fn config(issuers: &[&str], audiences: &[&str]) -> TokenConfig {
        TokenConfig {
            secret: SecretString::from(std::str::from_utf8(SECRET).unwrap()),
            issuers: strings(issuers),
            audiences: strings(audiences),
        }
    }

    #[test]
    fn a_minted_token_is_accepted_until_it_expires() {
        let config = config(&["https://todo.example.com"], &["https://todo.example.com"]);
        let user = UserId::parse("dev-user".into()).unwrap();
        let now = SystemTime::now();
        let token = mint(&config, &user, Duration::from_secs(3600), now);
        let verified = Authenticator::new(&config).verify(Some(&format!("Bearer {token}")));
        assert_eq!(
            verified.unwrap(),
            user,
            "iss and aud are the configured ones"
        );

        // Minted two hours ago for one hour: expired an hour ago, past the leeway.
        let old = mint(
            &config,
            &user,
            Duration::from_secs(3600),
            now - Duration::from_secs(7200),
        );
        assert_eq!(
            Authenticator::new(&config).verify(Some(&format!("Bearer {old}"))),
            Err(AuthError::Expired)
        );
    }

    /// The claims Better Auth's JWT plugin puts in a token: the session's user, `sub` = user id,
    /// `iss` and `aud` = the app's base URL, 15 minutes of validity.
    fn better_auth_claims() -> serde_json::Value {
        json!({
            "id": "u_7Kq2", "name": "Ada Lovelace", "email": "ada@example.com",
            "emailVerified": true, "image": null,
            "createdAt": "2026-01-02T03:04:05.000Z", "updatedAt": "2026-01-02T03:04:05.000Z",
            "sub": "u_7Kq2", "iat": now(), "exp": now() + 900,
            "iss": "https://todo.example.com", "aud": "https://todo.example.com",
        })
    }

    fn verify_with(
        issuers: &[&str],
        audiences: &[&str],
        claims: serde_json::Value,
    ) -> Result<UserId, AuthError> {
        let token = token(Algorithm::HS256, claims, SECRET);
        Authenticator::new(&config(issuers, audiences)).verify(Some(&format!("Bearer {token}")))
    }

    #[test]
    fn better_auth_tokens_are_accepted_without_issuer_or_audience_settings() {
        assert_eq!(
            verify_with(&[], &[], better_auth_claims())
                .unwrap()
                .as_str(),
            "u_7Kq2"
        );
        let mut claims = better_auth_claims();
        claims["aud"] = json!(["https://todo.example.com", "mobile"]);
        assert!(verify_with(&[], &[], claims).is_ok(), "aud as an array");
    }

    #[test]
    fn configured_issuer_and_audience_are_enforced() {
        let site = "https://todo.example.com";
        assert!(verify_with(&[site], &["other", site], better_auth_claims()).is_ok());
        assert_eq!(
            verify_with(&["https://evil.example"], &[], better_auth_claims()),
            Err(AuthError::InvalidToken("issuer not accepted"))
        );
        assert_eq!(
            verify_with(&[], &["https://api.example"], better_auth_claims()),
            Err(AuthError::InvalidToken("audience not accepted"))
        );
        let mut claims = better_auth_claims();
        claims.as_object_mut().unwrap().remove("iss");
        claims.as_object_mut().unwrap().remove("aud");
        assert_eq!(
            verify_with(&[site], &[], claims.clone()),
            Err(AuthError::InvalidToken("the iss claim is required"))
        );
        assert_eq!(
            verify_with(&[], &[site], claims.clone()),
            Err(AuthError::InvalidToken("the aud claim is required"))
        );
        assert!(
            verify_with(&[], &[], claims).is_ok(),
            "neither is required unless configured"
        );
    }

    #[test]
    fn control_characters_in_sub_are_rejected() {
        for subject in [
            "nul\0byte",
            "line\nbreak",
            "esc\u{1b}",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let token = token(
                Algorithm::HS256,
                json!({"sub": subject, "exp": now() + 60}),
                SECRET,
            );
            assert_eq!(
                verify(&token),
                Err(AuthError::InvalidToken(
                    "sub must not contain control characters"
                )),
                "{subject:?}"
            );
        }
    }

    #[test]
    fn valid_token_yields_its_subject() {
        let token = token(
            Algorithm::HS256,
            json!({"sub": "user-1", "exp": now() + 60}),
            SECRET,
        );
        assert_eq!(verify(&token).unwrap().as_str(), "user-1");
    }

    #[test]
    fn scheme_is_case_insensitive() {
        let token = token(
            Algorithm::HS256,
            json!({"sub": "u", "exp": now() + 60}),
            SECRET,
        );
        let user = Authenticator::new(&config(&[], &[])).verify(Some(&format!("bearer {token}")));
        assert!(user.is_ok());
    }

    #[test]
    fn expired_token_is_rejected() {
        let token = token(
            Algorithm::HS256,
            json!({"sub": "u", "exp": now() - 3600}),
            SECRET,
        );
        assert_eq!(verify(&token), Err(AuthError::Expired));
    }

    #[test]
    fn token_without_exp_is_rejected() {
        let token = token(Algorithm::HS256, json!({"sub": "u"}), SECRET);
        assert!(matches!(verify(&token), Err(AuthError::InvalidToken(_))));
    }

    #[test]
    fn token_signed_with_another_secret_is_rejected() {
        let token = token(
            Algorithm::HS256,
            json!({"sub": "u", "exp": now() + 60}),
            b"another-secret-another-secret-0123456",
        );
        assert_eq!(
            verify(&token),
            Err(AuthError::InvalidToken("bad signature"))
        );
    }

    #[test]
    fn other_hmac_algorithms_are_rejected() {
        let token = token(
            Algorithm::HS512,
            json!({"sub": "u", "exp": now() + 60}),
            SECRET,
        );
        assert_eq!(
            verify(&token),
            Err(AuthError::InvalidToken("algorithm must be HS256"))
        );
    }

    #[test]
    fn alg_none_is_rejected() {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = engine.encode(format!(r#"{{"sub":"u","exp":{}}}"#, now() + 60));
        assert!(matches!(
            verify(&format!("{header}.{claims}.")),
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[test]
    fn missing_and_non_bearer_headers_are_told_apart() {
        let authenticator = Authenticator::new(&config(&[], &[]));
        assert_eq!(authenticator.verify(None), Err(AuthError::MissingToken));
        assert_eq!(
            authenticator.verify(Some("Basic dTpw")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            authenticator.verify(Some("Bearer ")),
            Err(AuthError::MissingToken)
        );
        assert!(matches!(
            authenticator.verify(Some("Bearer not.a.jwt")),
            Err(AuthError::InvalidToken(_))
        ));
    }
}
