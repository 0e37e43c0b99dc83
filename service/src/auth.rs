//! Bearer-token authentication: HS256 JWTs signed with BETTER_AUTH_SECRET.
//!
//! Only HS256 is accepted (`alg: none` and every other algorithm are rejected), `exp` is
//! required and checked, and `sub` names the user that owns the tasks.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;
use warp::Filter;

use crate::error::ApiError;

/// Longest accepted `sub`; user ids from auth providers are far shorter.
const MAX_SUBJECT_LEN: usize = 255;

/// Clock skew tolerated on `exp` and `nbf` between the token issuer and this service.
const LEEWAY_SECS: u64 = 30;

/// The authenticated caller: the token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
    pub fn new(secret: &[u8]) -> Authenticator {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        Authenticator {
            key: DecodingKey::from_secret(secret),
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
                    ErrorKind::MissingRequiredClaim(_) => {
                        AuthError::InvalidToken("the exp and sub claims are required")
                    }
                    ErrorKind::ImmatureSignature => {
                        AuthError::InvalidToken("token is not valid yet")
                    }
                    _ => AuthError::InvalidToken("malformed token"),
                }
            })?;
        let subject = data.claims.sub;
        if subject.is_empty() || subject.len() > MAX_SUBJECT_LEN {
            return Err(AuthError::InvalidToken("sub must be 1 to 255 bytes"));
        }
        Ok(UserId(subject))
    }
}

/// A filter that extracts the caller or rejects the request with 401.
pub fn require_user(
    authenticator: Arc<Authenticator>,
) -> impl Filter<Extract = (UserId,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization").and_then(move |header: Option<String>| {
        let result = authenticator.verify(header.as_deref());
        async move { result.map_err(|error| warp::reject::custom(ApiError::Unauthorized(error))) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &[u8] = b"unit-test-secret-unit-test-secret-0123";

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn token(algorithm: Algorithm, claims: serde_json::Value, secret: &[u8]) -> String {
        encode(
            &Header::new(algorithm),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn verify(token: &str) -> Result<UserId, AuthError> {
        Authenticator::new(SECRET).verify(Some(&format!("Bearer {token}")))
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
        let user = Authenticator::new(SECRET).verify(Some(&format!("bearer {token}")));
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
        let authenticator = Authenticator::new(SECRET);
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
